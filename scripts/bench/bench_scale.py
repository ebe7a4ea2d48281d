"""What a document library costs as it grows (issue 14): the PostgreSQL 15 HTML manual and the Python 3.11 docs
(library, tutorial, reference, howto, faq, glossary) plus the brief, indexed at 1 %, 10 % or 100 % of their files.

For each size, into a fresh data dir: index time, sentences/s and peak RSS of `brief index` (its own process),
an unchanged re-index, adding one file (in a loaded Assistant, as an upload does), retrieval median and p95 and
warm `ask` median (a loaded Assistant, warmed as `brief serve` warms it), `brief ask` from a cold process, and
`brief serve`'s time from start to /readyz. Prints a table and writes the figures as JSON, and beside it an HTML
report (scale.html: inline SVG, no scripts) that plots how each cost grows with the number of sentences, against
issue 14's bar at full scale.

    .venv/bin/python scripts/bench/bench_scale.py [--fractions 1,10,100] [--cache DIR] [--out scale.json]
    .venv/bin/python scripts/bench/bench_scale.py --report scale.json     # only (re)write scale.html from the JSON

The packages come from the distribution's package registry (`apt-get download`, then `dpkg-deb -x`) into
--cache, once. Questions come from questions/docs.jsonl when it exists, else from a short built-in list.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from workbench.scale_report import write_report

ROOT = Path(__file__).resolve().parents[2]

PACKAGES = ["postgresql-doc-15", "python3.11-doc"]
PYTHON_PARTS = ["library", "tutorial", "reference", "howto", "faq"]
BRIEF = ROOT / "seeds" / "us-mali-reengagement-brief.txt"
# Used when questions/docs.jsonl is absent: each about something both manuals cover at any size.
FALLBACK_QUESTIONS = [
    "What is pg_dump used for?",
    "Which port does the database server listen on by default?",
    "How do I make a backup of a whole cluster?",
    "What does a deque offer over a list?",
    "How can I count how often each item occurs?",
    "What is a generator in Python?",
    "How do I create an index on a table?",
    "What does VACUUM do?",
    "How do I read a file line by line?",
    "Which critical minerals does Mali hold reserves of?",
    "What is the global interpreter lock?",
    "How do transactions isolate concurrent sessions?",
]


def fetch_corpus(cache: Path) -> Path:
    """The unpacked packages under cache/root, downloading and unpacking them the first time."""
    root = cache / "root"
    marker = root / ".unpacked"
    if marker.exists():
        return root
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        if not list(debs.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
    root.mkdir(parents=True, exist_ok=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    marker.touch()
    return root


def corpus_files(root: Path) -> list[tuple[Path, str]]:
    """(file, name in the corpus folder) for every page of the issue's corpus, in a fixed order."""
    docs = root / "usr" / "share" / "doc"
    postgres = docs / "postgresql-doc-15" / "html"
    python = docs / "python3.11" / "html"
    files = [(p, f"postgresql/{p.name}") for p in sorted(postgres.glob("*.html"))]
    for part in PYTHON_PARTS:
        files += [(p, f"python/{p.relative_to(python)}") for p in sorted((python / part).rglob("*.html"))]
    files.append((python / "glossary.html", "python/glossary.html"))
    return files


def build_corpus(files: list[tuple[Path, str]], percent: float, target: Path) -> int:
    """Copy every n-th file (a spread of both manuals) and the brief into `target`; the number of files."""
    shutil.rmtree(target, ignore_errors=True)
    count = max(1, round(len(files) * percent / 100))
    step = len(files) / count
    chosen = [files[int(i * step)] for i in range(count)]
    for source, name in chosen:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / name)
    shutil.copyfile(BRIEF, target / BRIEF.name)
    return len(chosen) + 1


def run_child(argv: list[str], env: dict) -> tuple[float, int, str, int]:
    """Run a process to the end: (wall seconds, peak RSS in bytes, stdout, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss * 1024, out, proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_ready_seconds(brief: list[str], env: dict, timeout: float = 600) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*brief, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"brief serve exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("brief serve was not ready in time")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load_question_texts(limit: int) -> list[str]:
    path = ROOT / "questions" / "docs.jsonl"
    if not path.exists():
        return FALLBACK_QUESTIONS[:limit]
    from workbench.evaluation import load_questions

    return [item.question for item in load_questions(path) if not item.history][:limit]


def measure(percent: float, files: list[tuple[Path, str]], work: Path, questions: list[str]) -> dict:
    from assistant import Assistant, load_settings
    from workbench.evaluation import percentile

    label = f"{percent:g}%"
    corpus = work / f"corpus-{percent:g}"
    n_files = build_corpus(files, percent, corpus)
    data_dir = work / f"data-{percent:g}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = os.environ | {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)}
    brief = [sys.executable, "-m", "shells.cli", "--data-dir", str(data_dir)]
    print(f"[{label}] indexing {n_files} files ...", file=sys.stderr, flush=True)

    index_s, peak_rss, out, code = run_child([*brief, "index", str(corpus), "--quiet"], env)
    match = re.search(r"(\d+) sentences embedded", out)
    sentences = int(match.group(1)) if match else 0
    reindex_s, _, _, _ = run_child([*brief, "index", str(corpus), "--quiet"], env)

    settings = load_settings(data_dir=str(data_dir))
    assistant = Assistant(settings)
    assistant.warm_up()
    assistant.prefill_prompt_cache()
    retrieval, warm = [], []
    for question in questions:
        started = time.perf_counter()
        assistant.retriever.retrieve(question, k=settings.retrieval.coverage_k)
        retrieval.append(time.perf_counter() - started)
    for question in questions:
        started = time.perf_counter()
        assistant.ask(question)
        warm.append(time.perf_counter() - started)

    from index.pipeline import index_paths

    added = corpus / "added-note.txt"
    added.write_text(
        "The Zorblax gauge on the lower river was recalibrated in March.\n\n"
        "Readings before that date overstate the level by about four centimetres.\n"
    )
    started = time.perf_counter()
    report = index_paths([added], settings, progress=False, store=assistant.store)
    add_one_s = time.perf_counter() - started
    # Until a question finds it: what the next question pays for the change (the retriever's caches catch up).
    hits = assistant.retriever.retrieve("When was the Zorblax gauge recalibrated?", k=settings.retrieval.coverage_k)
    add_one_visible_s = time.perf_counter() - started
    assert report.added and any(e.chunk.source.endswith(added.name) for e in hits), report.errors

    cold_s, _, _, _ = run_child([*brief, "ask", questions[0]], env)
    ready_s = serve_ready_seconds(brief, env)
    return {
        "percent": percent,
        "files": n_files,
        "index_exit_code": code,
        "sentences": sentences,
        "index_s": round(index_s, 2),
        "sentences_per_s": round(sentences / index_s, 1) if index_s else 0.0,
        "index_peak_rss_mb": round(peak_rss / 1e6, 1),
        "unchanged_reindex_s": round(reindex_s, 2),
        "add_one_file_s": round(add_one_s, 2),
        "add_one_file_searchable_s": round(add_one_visible_s, 2),
        "retrieval_median_s": round(percentile(retrieval, 0.5), 4),
        "retrieval_p95_s": round(percentile(retrieval, 0.95), 4),
        "warm_ask_median_s": round(percentile(warm, 0.5), 3),
        "cold_ask_s": round(cold_s, 2),
        "serve_ready_s": round(ready_s, 2),
        "questions": len(questions),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractions", default="1,10,100", help="percentages of the corpus's files, e.g. 1,10")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "brief-bench-scale")
    parser.add_argument("--corpus-root", type=Path, help="already unpacked packages (skips the download)")
    parser.add_argument("--questions", type=int, default=20, help="questions timed per size")
    parser.add_argument("--out", type=Path, default=Path("scale.json"))
    parser.add_argument("--report", type=Path, help="only write the HTML report of this JSON, beside it")
    args = parser.parse_args()
    if args.report:
        print(f"wrote {write_report(json.loads(args.report.read_text()), args.report.with_suffix('.html'))}")
        return 0

    fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    root = args.corpus_root or fetch_corpus(args.cache)
    files = corpus_files(root)
    if not files:
        print(f"no manual pages under {root}", file=sys.stderr)
        return 1
    questions = load_question_texts(args.questions)
    results = []
    for percent in fractions:
        results.append(measure(percent, files, args.cache, questions))
        result = {"machine_cpus": os.cpu_count(), "sizes": results}
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        write_report(result, args.out.with_suffix(".html"))
    keys = [k for k in results[0] if k != "percent"]
    print("| figure | " + " | ".join(f"{r['percent']:g} %" for r in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for key in keys:
        print(f"| {key} | " + " | ".join(str(r[key]) for r in results) + " |")
    print(f"wrote {args.out} and {args.out.with_suffix('.html')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
