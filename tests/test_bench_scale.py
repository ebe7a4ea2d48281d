"""The scale benchmark's report writer (`workbench.scale_report`, used by scripts/bench/bench_scale.py), on a
small made-up result (the benchmark itself takes minutes)."""

import re

from workbench import scale_report


def size(percent, sentences, index_s, rss, add_one):
    return {
        "percent": percent,
        "files": int(percent * 15),
        "sentences": sentences,
        "index_s": index_s,
        "sentences_per_s": round(sentences / index_s, 1),
        "index_peak_rss_mb": rss,
        "unchanged_reindex_s": 1.0,
        "add_one_file_s": add_one,
        "add_one_file_searchable_s": None if percent == 1 else add_one + 0.2,
        "retrieval_median_s": 0.02,
        "retrieval_p95_s": 0.03,
        "warm_ask_median_s": 0.5,
        "cold_ask_s": 3.0,
        "serve_ready_s": 9.0,
    }


def test_report_plots_each_cost_against_corpus_size(tmp_path):
    result = {
        "machine_cpus": 2,
        "sizes": [
            size(100, 124_857, 982.0, 1810.0, 6.2),
            size(1, 1_250, 9.0, 700.0, 0.4),
            size(10, 14_097, 100.0, 1540.0, 0.66),
        ],
    }
    page = scale_report.write_report(result, tmp_path / "scale.html").read_text()

    charts = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(charts) == len(scale_report.CHARTS)
    assert "<script" not in page and "default-src 'none'" in page
    index_chart = next(c for c in charts if 'aria-label="index time"' in c)
    # The three sizes in order of size along the x axis, whatever the order of the runs.
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', index_chart)]
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', index_chart)]
    assert len(xs) == 3 and xs == sorted(xs) and ys == sorted(ys, reverse=True), "a growing cost rises to the right"
    assert "982" in index_chart and "bar ≤ 900" in index_chart and "14,097" in index_chart
    assert "bar ≥ 110" in next(c for c in charts if "throughput" in c)
    # Two figures on one chart; a figure missing at one size is left out there, not drawn as zero.
    add_chart = next(c for c in charts if "add one file" in c)
    assert add_chart.count("<polyline") == 2 and add_chart.count("<circle") == 5
    assert "<td>sentences_per_s</td>" in page and "<th>1 %</th><th>10 %</th><th>100 %</th>" in page


def test_report_of_one_size(tmp_path):
    page = scale_report.render_report({"machine_cpus": 2, "sizes": [size(1, 1_250, 9.0, 700.0, 0.4)]})
    assert page.count("<svg") == len(scale_report.CHARTS) and "<polyline" not in page and "1,250" in page
