"""Lexical search, old and new, on the same sentences: build time, query latency, and the cost of adding and
removing one document. The old one is the pure-Python BM25 of `assistant/lexical.py` at git commit OLD (read
with `git show`); the new one is the SQLite FTS5 index. No embedding, no Chroma: files are loaded and split
into sentences as `brief index` does, and fed to both.

    .venv/bin/python scripts/bench/bench_lexical.py FOLDER_OR_FILE ... [--max-sentences 100000] [--old 2ebf5cb]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import subprocess
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_corpus(paths: list[Path], max_sentences: int):
    """(path, version, source, text, chunks) per file, in order, until `max_sentences` sentences."""
    from index.lexical import IndexedDocument
    from index.loaders import LoadError, is_supported, load_document
    from index.pipeline import make_chunks

    files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p]) if f.is_file() and is_supported(f)]
    documents, total = [], 0
    for f in files:
        try:
            doc = load_document(f)
        except LoadError:
            continue
        chunks = make_chunks(doc, str(f), str(f))
        if not chunks:
            continue
        documents.append(IndexedDocument(str(f), doc.content_hash, str(f), doc.text, chunks))
        total += len(chunks)
        if total >= max_sentences:
            break
    return documents


def old_bm25_class(ref: str):
    source = subprocess.run(
        ["git", "show", f"{ref}:assistant/lexical.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType("old_lexical")
    exec(compile(source, f"{ref}:assistant/lexical.py", "exec"), module.__dict__)
    return module.BM25


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def latencies(search, queries: list[str]) -> tuple[float, float]:
    from workbench.evaluation import percentile

    times = [timed(search, q)[0] for q in queries]
    return statistics.median(times), percentile(times, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--max-sentences", type=int, default=100_000)
    parser.add_argument(
        "--queries",
        type=int,
        default=50,
        help="questions from questions/brief.jsonl plus the first words of sentences sampled from the corpus",
    )
    parser.add_argument("--old", default="2ebf5cb", help="git commit of the pure-Python BM25")
    parser.add_argument("--k", type=int, default=20)
    args = parser.parse_args()

    from index.lexical import LexicalIndex
    from index.pipeline import embedding_text
    from workbench.evaluation import load_questions

    started = time.perf_counter()
    documents = load_corpus(args.paths, args.max_sentences)
    chunks = [c for d in documents for c in d.chunks]
    print(
        f"{len(documents)} files, {len(chunks)} sentences (loaded and split in {time.perf_counter() - started:.1f} s)"
    )
    rng = random.Random(0)
    queries = [q.question for q in load_questions(ROOT / "questions" / "brief.jsonl")][: args.queries // 2]
    queries += [" ".join(c.text.split()[:8]) for c in rng.sample(chunks, args.queries - len(queries))]

    BM25 = old_bm25_class(args.old)
    build_old, bm25 = timed(BM25, [embedding_text(c) for c in chunks])
    old_median, old_p95 = latencies(lambda q: bm25.top(q, args.k), queries)

    with tempfile.TemporaryDirectory(prefix="bench-lexical-") as tmp:
        path = Path(tmp) / "lexical.sqlite3"
        index = LexicalIndex(path)
        build_new, _ = timed(lambda: [index.put(d) for d in documents[:-1]])
        new_median, new_p95 = latencies(lambda q: index.search(q, args.k), queries)
        add_one, _ = timed(index.put, documents[-1])
        remove_one, _ = timed(index.remove, documents[-1].path)
        index.close()
        reopen, reopened = timed(LexicalIndex, path)
        reopen_versions, _ = timed(reopened.versions)
        size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
        reopened.close()

    rows = [
        ("build (all sentences)", f"{build_old:.2f} s", f"{build_new:.2f} s (file, {size_mb:.0f} MB)"),
        (
            f"query median / p95 (k={args.k}, {len(queries)} queries)",
            f"{old_median * 1000:.1f} / {old_p95 * 1000:.1f} ms",
            f"{new_median * 1000:.2f} / {new_p95 * 1000:.2f} ms",
        ),
        (
            f"add one file ({len(documents[-1].chunks)} sentences)",
            f"{build_old:.2f} s (rebuild)",
            f"{add_one * 1000:.1f} ms",
        ),
        ("remove one file", f"{build_old:.2f} s (rebuild)", f"{remove_one * 1000:.1f} ms"),
        ("start with the index on disk", f"{build_old:.2f} s (rebuild)", f"{(reopen + reopen_versions) * 1000:.1f} ms"),
    ]
    digest = hashlib.sha1("".join(c.id for c in chunks).encode()).hexdigest()[:8]
    print(f"| {len(chunks)} sentences (corpus {digest}) | old: pure-Python BM25 ({args.old}) | new: SQLite FTS5 |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
