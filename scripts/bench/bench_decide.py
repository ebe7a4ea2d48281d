"""What the refusal decision costs per question: `RefusalDecision.decide` (coverage, features, the answerability
model) timed apart from retrieval, over a question set and an index of seeds/ (or --data-dir, already indexed),
warm: each question is decided once before the timed rounds. Prints medians and p95s in milliseconds.

    .venv/bin/python scripts/bench/bench_decide.py [--questions questions/brief.jsonl] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=Path, default=ROOT / "questions" / "brief.jsonl")
    parser.add_argument("--data-dir", type=Path, help="an indexed data dir (default: a fresh index of seeds/)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from assistant import Assistant, load_settings
    from assistant.assistant import normalise_history
    from assistant.question import Question
    from index.pipeline import index_paths
    from workbench.evaluation import load_questions, percentile

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="brief-bench-decide-"))
    settings = load_settings(data_dir=data_dir)
    if args.data_dir is None:
        index_paths([ROOT / "seeds"], settings, progress=False)
    assistant = Assistant(settings)
    items = load_questions(args.questions)
    prepared = []
    for item in items:
        prepared.append(
            Question.analyse(item.question, normalise_history([{"role": "user", "content": h} for h in item.history]))
        )
    for question in prepared:  # warm: embedder, word vectors, the model file
        assistant.refusal.decide(
            question, assistant.retriever.retrieve(question.queries, k=settings.retrieval.coverage_k)
        )
    retrieve_ms, decide_ms = [], []
    for _ in range(args.rounds):
        for question in prepared:
            started = time.perf_counter()
            candidates = assistant.retriever.retrieve(question.queries, k=settings.retrieval.coverage_k)
            retrieved = time.perf_counter()
            assistant.refusal.decide(question, candidates)
            decide_ms.append(1000 * (time.perf_counter() - retrieved))
            retrieve_ms.append(1000 * (retrieved - started))
    for name, values in [("retrieve", retrieve_ms), ("decide", decide_ms)]:
        print(
            f"{name:<9} median {percentile(values, 0.5):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms"
            f"   ({len(values)} timings, {len(items)} questions x {args.rounds})"
        )


if __name__ == "__main__":
    main()
