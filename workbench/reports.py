"""Reports of an evaluation run: report.json (everything), report.md (one screen) and a self-contained
report.html with plots drawn as inline SVG (no plotting library, no network), plus the diff of two runs."""

from __future__ import annotations

import html
import json
from pathlib import Path

from workbench.evaluation import LOWER_IS_BETTER, breakdown

HEADLINE = [
    ("handled_right", "Questions handled right", True),
    ("answerable_correct", "Answerable correct", True),
    ("unanswerable_refused", "Unanswerable refused", True),
    ("fact_recall", "Fact recall", True),
    ("citation_precision", "Citation precision", True),
    ("citation_recall", "Citation recall", True),
    ("grounding", "Grounding", True),
    ("semantic_similarity", "Semantic similarity", True),
    ("em", "Exact match", True),
    ("f1", "Token F1", True),
    ("has_ans_f1", "HasAns F1", True),
    ("no_ans_accuracy", "NoAns accuracy", True),
    ("refusal_accuracy", "Refusal accuracy", True),
    ("refusal_precision", "Refusal precision", True),
    ("refusal_recall", "Refusal recall", True),
    ("hit@1", "Gold passage hit@1", True),
    ("hit@3", "hit@3", True),
    ("hit@5", "hit@5", True),
    ("hit@10", "hit@10", True),
    ("mrr", "MRR", True),
    ("retrieve_s_median", "Retrieve median (s)", False),
    ("generate_s_median", "Generate median (s)", False),
    ("total_s_median", "Total median (s)", False),
    ("total_s_p95", "Total p95 (s)", False),
    ("tokens_generated_mean", "Tokens generated (mean)", False),
]
COLOURS = ["#2563eb", "#f59e0b", "#10b981", "#ef4444"]


def _fmt(value, ratio: bool) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if ratio and isinstance(value, float) else f"{value}"


def worst_items(rows: list[dict], n: int = 8) -> list[dict]:
    """Wrong items first: unanswerable answered, answerable refused, then lowest F1."""
    wrong = [r for r in rows if not r["scores"].get("correct")]
    return sorted(wrong, key=lambda r: (r["scores"].get("f1") or 0.0, r["id"]))[:n]


def write_reports(report: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "report.html"]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    paths[1].write_text(render_markdown(report), encoding="utf-8")
    paths[2].write_text(render_html(report), encoding="utf-8")
    return paths


def _summaries(report: dict) -> dict[str, dict]:
    return {name: run["summary"] for name, run in report["pipelines"].items()}


def render_markdown(report: dict) -> str:
    summaries = _summaries(report)
    names = list(summaries)
    lines = [
        f"# Evaluation: {report['dataset']}",
        "",
        f"{report['summary']['items']} items · pipelines: {', '.join(names)} · {report.get('created', '')}",
        "",
    ]
    header = "| metric | " + " | ".join(names) + (" | ratio |" if len(names) == 2 else " |")
    lines += [header, "|" + " --- |" * (len(names) + 1 + (len(names) == 2))]
    for key, label, ratio in HEADLINE:
        values = [summaries[n].get(key) for n in names]
        if all(v is None for v in values):
            continue
        row = f"| {label} ({'%' if ratio else 'value'}) | " + " | ".join(_fmt(v, ratio) for v in values)
        if len(names) == 2:
            cmp = report.get("comparison", {}).get(key, {})
            row += f" | {cmp.get('ratio', '–')}"
        lines.append(row + " |")
    primary = report["pipelines"][names[0]]["items"]
    lines += ["", f"## By kind of question ({names[0]})", "", *breakdown_table(primary)]
    lines += ["", f"## Worst items ({names[0]})", "", "| id | question | answer | F1 |", "| --- | --- | --- | --- |"]
    for r in worst_items(primary):
        answer = " ".join(r["answer"].split())[:90].replace("|", "\\|")
        question = r["question"][:70].replace("|", "\\|")
        lines.append(f"| {r['id']} | {question} | {answer} | {_fmt(r['scores'].get('f1'), True)} |")
    return "\n".join(lines) + "\n"


def breakdown_table(rows: list[dict]) -> list[str]:
    """`breakdown` as Markdown table lines: per cent handled right, and of the answerable and unanswerable
    questions in each group, with their counts."""

    def cell(share, n):
        return f"{_fmt(share, True)} ({n})" if n else "–"

    lines = [
        "| group | questions | handled right (%) | answerable right (%, n) | unanswerable refused (%, n) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for g in breakdown(rows):
        lines.append(
            f"| {g['group']} | {g['items']} | {_fmt(g['handled_right'], True)} "
            f"| {cell(g['answerable_correct'], g['answerable'])} | {cell(g['unanswerable_refused'], g['unanswerable'])} |"
        )
    return lines


def _bars_svg(summaries: dict[str, dict]) -> str:
    metrics = [
        (k, label) for k, label, ratio in HEADLINE if ratio and any(s.get(k) is not None for s in summaries.values())
    ]
    names = list(summaries)
    row_h, bar_h, left, width = 26, 10, 190, 420
    height = row_h * len(metrics) + 40
    parts = [f'<svg viewBox="0 0 {left + width + 70} {height}" role="img" aria-label="metrics">']
    for i, (key, label) in enumerate(metrics):
        y = 20 + i * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 12}" text-anchor="end" class="lbl">{html.escape(label)}</text>')
        for j, name in enumerate(names):
            value = summaries[name].get(key) or 0.0
            w = max(0.0, min(1.0, float(value))) * width
            parts.append(
                f'<rect x="{left}" y="{y + j * bar_h}" width="{w:.1f}" height="{bar_h - 1}" '
                f'fill="{COLOURS[j % 4]}"><title>{html.escape(name)}: {100 * value:.1f} %</title></rect>'
            )
            parts.append(f'<text x="{left + w + 4}" y="{y + j * bar_h + 9}" class="val">{100 * value:.1f}</text>')
    for j, name in enumerate(names):
        parts.append(
            f'<rect x="{left + j * 120}" y="{height - 14}" width="10" height="10" fill="{COLOURS[j % 4]}"/>'
            f'<text x="{left + j * 120 + 14}" y="{height - 5}" class="lbl">{html.escape(name)}</text>'
        )
    return "".join(parts) + "</svg>"


def _histogram_svg(runs: dict[str, list[dict]]) -> str:
    values = {name: [r["latency_s"] for r in rows] for name, rows in runs.items()}
    top = max((v for vs in values.values() for v in vs), default=1.0) or 1.0
    bins = 20
    counts = {n: [0] * bins for n in values}
    for name, vs in values.items():
        for v in vs:
            counts[name][min(bins - 1, int(v / top * bins))] += 1
    peak = max((c for cs in counts.values() for c in cs), default=1) or 1
    w, h, left = 520, 180, 40
    parts = [f'<svg viewBox="0 0 {w + left + 20} {h + 40}" role="img" aria-label="latency histogram">']
    slot = w / bins
    for j, name in enumerate(counts):
        for b, c in enumerate(counts[name]):
            bh = c / peak * h
            x = left + b * slot + j * slot / len(counts)
            parts.append(
                f'<rect x="{x:.1f}" y="{h - bh + 10:.1f}" width="{slot / len(counts) - 1:.1f}" '
                f'height="{bh:.1f}" fill="{COLOURS[j % 4]}"><title>{html.escape(name)}: {c}</title></rect>'
            )
    parts.append(f'<line x1="{left}" y1="{h + 10}" x2="{left + w}" y2="{h + 10}" stroke="#999"/>')
    for t in range(5):
        x = left + t * w / 4
        parts.append(f'<text x="{x:.0f}" y="{h + 26}" class="val" text-anchor="middle">{top * t / 4:.2f} s</text>')
    return "".join(parts) + "</svg>"


def _confusion_html(rows: list[dict]) -> str:
    cells = {(a, r): 0 for a in (True, False) for r in (True, False)}
    for row in rows:
        cells[(row["answerable"], row["refused"])] += 1
    return (
        "<table class='cm'><tr><th></th><th>answered</th><th>refused</th></tr>"
        f"<tr><th>answerable</th><td class='ok'>{cells[(True, False)]}</td><td class='bad'>{cells[(True, True)]}</td></tr>"
        f"<tr><th>unanswerable</th><td class='bad'>{cells[(False, False)]}</td><td class='ok'>{cells[(False, True)]}</td>"
        "</tr></table>"
    )


def _table_rows(lines: list[str]) -> list[str]:
    """A Markdown table's lines as HTML rows (escaped), the header included, the rule left out."""
    rows = []
    for line in lines:
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return rows


def render_html(report: dict) -> str:
    summaries = _summaries(report)
    runs = {name: run["items"] for name, run in report["pipelines"].items()}
    table = render_markdown(report).split("## By kind of question")[0]
    primary = next(iter(runs))
    rows_html = _table_rows(table.splitlines())
    kinds_html = _table_rows(breakdown_table(runs[primary]))
    confusion = "".join(
        f"<div><h3>{html.escape(name)}</h3>{_confusion_html(rows)}</div>" for name, rows in runs.items()
    )
    worst = "".join(
        f"<tr><td>{html.escape(r['id'])}</td><td>{html.escape(r['question'])}</td>"
        f"<td>{html.escape(' '.join(r['answer'].split())[:240])}</td><td>{_fmt(r['scores'].get('f1'), True)}</td></tr>"
        for r in worst_items(runs[primary], 15)
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Evaluation: {html.escape(report["dataset"])}</title><style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#1f2937;padding:0 1rem}}
h1{{font-size:1.5rem}} table{{border-collapse:collapse;margin:1rem 0}} td,th{{border-bottom:1px solid #e5e7eb;
padding:4px 10px;text-align:left}} tr:first-child td{{font-weight:600;background:#f3f4f6}}
.lbl{{font-size:11px;fill:#374151}} .val{{font-size:10px;fill:#6b7280}} .grid{{display:flex;gap:2rem}}
.cm td{{text-align:center;min-width:70px;font-weight:600}} .ok{{background:#d1fae5}} .bad{{background:#fee2e2}}
svg{{width:100%;height:auto}}</style></head><body>
<h1>Evaluation: {html.escape(report["dataset"])}</h1>
<p>{report["summary"]["items"]} items · pipelines: {html.escape(", ".join(summaries))} · {html.escape(report.get("created", ""))}</p>
<h2>Metrics (per cent unless marked)</h2><table>{"".join(rows_html)}</table>
<h2>By kind of question ({html.escape(primary)})</h2><table>{"".join(kinds_html)}</table>
<h2>Metrics by pipeline</h2>{_bars_svg(summaries)}
<h2>Latency per question</h2>{_histogram_svg(runs)}
<h2>Refusals</h2><div class="grid">{confusion}</div>
<h2>Worst items ({html.escape(primary)})</h2><table><tr><td>id</td><td>question</td><td>answer</td><td>F1</td></tr>{worst}</table>
</body></html>"""


def diff_reports(old: dict, new: dict) -> str:
    """What changed between two runs of the same pipeline: metrics, and the items whose correctness flipped."""
    old_summary, new_summary = old["summary"], new["summary"]
    lines = ["metric                     old        new      change"]
    for key, value in new_summary.items():
        before = old_summary.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(before, int | float):
            continue
        if value == before:
            continue
        better = (value < before) if key in LOWER_IS_BETTER else (value > before)
        lines.append(f"{key:<24} {before:>9} {value:>10}   {'better' if better else 'worse'}")
    old_items = {r["id"]: r for r in old["items"]}
    flipped = [
        (r, old_items[r["id"]])
        for r in new["items"]
        if r["id"] in old_items
        and bool(r["scores"].get("correct")) != bool(old_items[r["id"]]["scores"].get("correct"))
    ]
    lines.append("")
    lines.append(f"{len(flipped)} items flipped")
    for r, before in flipped:
        arrow = "now right" if r["scores"].get("correct") else "now wrong"
        lines.append(f"  {r['id']:<28} {arrow}: {r['question'][:70]}")
        lines.append(f"      before: {' '.join(before['answer'].split())[:100]}")
        lines.append(f"      after:  {' '.join(r['answer'].split())[:100]}")
    return "\n".join(lines)
