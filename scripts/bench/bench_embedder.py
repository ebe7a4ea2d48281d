"""Embedding throughput options on this machine, compared within one run (the options take turns, so a busy
machine slows them alike): sentence-transformers on torch with several batch sizes, with and without sorting a
pool of sentences by length, and onnxruntime on an fp32 and an int8 export of the same installed weights (when
the `onnx` package is importable; the export goes to a temporary directory). Prints sentences/s per option and
how close each option's vectors are to torch's.

    .venv/bin/python scripts/bench/bench_embedder.py [--pages DIR] [--sentences 1024] [--rounds 2]

Sentences are the indexed form (section + sentence) of HTML pages under --pages (default: the unpacked
PostgreSQL manual of scripts/bench/bench_scale.py), or of README.md when there are none.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PAGES = Path("/tmp/brief-bench-scale/root/usr/share/doc/postgresql-doc-15/html")


def sample_sentences(pages: Path, n: int) -> list[str]:
    from index.loaders import load_document
    from index.pipeline import embedding_text, iter_chunks

    files = sorted(pages.glob("*.html"))[::7] if pages.is_dir() else [ROOT / "README.md"]
    texts: list[str] = []
    for path in files:
        doc = load_document(path)
        texts += [embedding_text(c) for c in iter_chunks(doc, path.name, str(path))]
        if len(texts) >= n:
            break
    return (texts * (n // max(1, len(texts)) + 1))[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--sentences", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from kernel.embedder import BUNDLED_MODEL, OnnxEmbeddings, export_onnx, resolve_model_path

    model_dir = resolve_model_path(BUNDLED_MODEL)
    texts = sample_sentences(args.pages, args.sentences)
    print(f"{len(texts)} sentences, mean {statistics.mean(map(len, texts)):.0f} characters; torch threads "
          f"{torch.get_num_threads()}", flush=True)  # fmt: skip
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def torch_sorted(batch_size: int):
        return lambda: model.encode(texts, batch_size=batch_size, normalize_embeddings=True)

    def torch_unsorted(batch_size: int):
        # encode() sorts only within one call: one call per batch keeps the documents' order.
        return lambda: np.concatenate(
            [
                model.encode(texts[i : i + batch_size], batch_size=batch_size, normalize_embeddings=True)
                for i in range(0, len(texts), batch_size)
            ]
        )

    options = {
        "torch, sorted pool, batch 16": torch_sorted(16),
        "torch, sorted pool, batch 32": torch_sorted(32),
        "torch, sorted pool, batch 64": torch_sorted(64),
        "torch, sorted pool, batch 128": torch_sorted(128),
        "torch, unsorted, batch 64": torch_unsorted(64),
    }
    with tempfile.TemporaryDirectory(prefix="brief-onnx-") as tmp:
        try:
            import onnx  # noqa: F401  (the exporter needs it)
        except ImportError:
            print("onnx is not installed: the onnxruntime options are skipped")
        else:
            for name, quantize in (("fp32", False), ("int8", True)):
                encoder = OnnxEmbeddings(export_onnx(model_dir, Path(tmp) / f"{name}.onnx", quantize), model_dir)
                options[f"onnxruntime {name}, sorted, batch 64"] = lambda encoder=encoder: encoder.encode(texts)

        reference = np.asarray(options["torch, sorted pool, batch 64"]())
        seconds: dict[str, list[float]] = {name: [] for name in options}
        agreement: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, encode in options.items():
                started = time.perf_counter()
                vectors = np.asarray(encode())
                seconds[name].append(time.perf_counter() - started)
                agreement[name] = float(np.min(np.sum(vectors * reference, axis=1)))
    print(f"| option | sentences/s (best of {args.rounds}) | lowest cosine to torch's vector |")
    print("| --- | --- | --- |")
    for name, times in seconds.items():
        print(f"| {name} | {len(texts) / min(times):.0f} | {agreement[name]:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
