"""The scale benchmark's report (`scripts/bench/bench_scale.py`): a self-contained HTML page (inline SVG, no
scripts) that plots how each cost grows with the number of sentences, against issue 14's bar at full scale, and
tabulates every figure per size."""

from __future__ import annotations

import html
import math
from pathlib import Path

# What the report plots: (figures on one chart, title, unit, issue 14's bar at full scale, whether it is a floor).
CHARTS = [
    (("index_s",), "index time", "s", 900, False),
    (("sentences_per_s",), "ingest throughput", "sentences/s", 110, True),
    (("index_peak_rss_mb",), "peak RSS of brief index", "MB", 2000, False),
    (("unchanged_reindex_s",), "unchanged re-index", "s", 30, False),
    (("add_one_file_s", "add_one_file_searchable_s"), "add one file (stored; searchable)", "s", 5, False),
    (("retrieval_median_s", "retrieval_p95_s"), "retrieval (median; p95)", "s", 0.05, False),
    (("warm_ask_median_s",), "warm ask median", "s", 1.0, False),
    (("cold_ask_s",), "brief ask cold start", "s", 5, False),
    (("serve_ready_s",), "brief serve ready", "s", 20, False),
]
LINE_COLOURS = ["#2563eb", "#f59e0b"]


def chart_svg(sizes: list[dict], keys: tuple[str, ...], title: str, unit: str, bar: float, floor: bool) -> str:
    """One figure against the corpus size (sentences, log scale), each size a labelled point, and the bar
    as a dashed red line."""
    width, height, left, right, top, bottom = 320, 210, 48, 40, 40, 34
    points = [(r["sentences"], r.get(k)) for k in keys for r in sizes]
    counts = sorted({n for n, _ in points if n})
    values = [v for _, v in points if isinstance(v, int | float)]
    high = max([*values, bar]) * 1.1 or 1.0
    low_x, high_x = math.log10(counts[0]) if counts else 0.0, math.log10(counts[-1]) if counts else 1.0
    span_x = (high_x - low_x) or 1.0

    def x(n: int) -> float:
        return left + (0.5 if high_x == low_x else (math.log10(n) - low_x) / span_x) * (width - left - right)

    def y(v: float) -> float:
        return top + (1 - v / high) * (height - top - bottom)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="16" class="ttl">{html.escape(title)} ({html.escape(unit)})</text>',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y(0):.1f}" stroke="#9ca3af"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" class="val">{_short(high)}</text>',
        *(
            f'<text x="{left + 110 * j}" y="30" class="val" style="fill:{LINE_COLOURS[j % len(LINE_COLOURS)]}">'
            f"● {html.escape(key)}</text>"
            for j, key in enumerate(keys)
            if len(keys) > 1
        ),
        f'<line x1="{left}" y1="{y(bar):.1f}" x2="{width - right}" y2="{y(bar):.1f}" stroke="#dc2626" '
        f'stroke-dasharray="4 3"><title>bar: {"≥" if floor else "≤"} {bar:g} {html.escape(unit)}</title></line>',
        f'<text x="{width - right}" y="{y(bar) - 3:.1f}" text-anchor="end" class="bar">'
        f"bar {'≥' if floor else '≤'} {bar:g}</text>",
    ]
    for n in counts:
        parts.append(f'<text x="{x(n):.1f}" y="{height - bottom + 14}" text-anchor="middle" class="val">{n:,}</text>')
    parts.append(
        f'<text x="{(left + width) / 2:.0f}" y="{height - 4}" text-anchor="middle" class="val">sentences</text>'
    )
    for j, key in enumerate(keys):
        line = [(r["sentences"], r[key]) for r in sizes if r.get("sentences") and isinstance(r.get(key), int | float)]
        colour = LINE_COLOURS[j % len(LINE_COLOURS)]
        if len(line) > 1:
            path = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in line)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v in line:
            parts.append(
                f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}">'
                f"<title>{html.escape(key)} at {n:,} sentences: {v:g} {html.escape(unit)}</title></circle>"
                f'<text x="{x(n) + 5:.1f}" y="{y(v) - 5:.1f}" class="val">{_short(v)}</text>'
            )
    return "".join(parts) + "</svg>"


def _short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def render_report(result: dict) -> str:
    """A self-contained HTML page: one chart per cost and the table of every figure per size."""
    sizes = sorted(result["sizes"], key=lambda r: r["percent"])
    charts = "".join(f"<figure>{chart_svg(sizes, *chart)}</figure>" for chart in CHARTS)
    keys = [k for k in sizes[0] if k != "percent"] if sizes else []
    head = "".join(f"<th>{r['percent']:g} %</th>" for r in sizes)
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td>"
        + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for r in sizes)
        + "</tr>"
        for k in keys
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Scale: cost against corpus size</title><style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1040px;color:#1f2937;padding:0 1rem}}
.charts{{display:grid;grid-template-columns:repeat(3,1fr);gap:1rem}} figure{{margin:0}} svg{{width:100%;height:auto}}
.ttl{{font-size:12px;font-weight:600;fill:#111827}} .val{{font-size:9px;fill:#4b5563}} .bar{{font-size:9px;fill:#dc2626}}
table{{border-collapse:collapse;margin:1rem 0}} td,th{{border-bottom:1px solid #e5e7eb;padding:3px 10px;text-align:left}}
</style></head><body>
<h1>Scale: what each cost does as the corpus grows</h1>
<p>scripts/bench/bench_scale.py · {result.get("machine_cpus", "?")} CPUs · sizes: {html.escape(", ".join(f"{r['percent']:g} %" for r in sizes))}.
Red dashed lines: issue 14's bars, which apply at full scale.</p>
<div class="charts">{charts}</div>
<h2>Figures</h2><table><tr><th>figure</th>{head}</tr>{rows}</table>
</body></html>
"""


def write_report(result: dict, path: Path) -> Path:
    path.write_text(render_report(result))
    return path
