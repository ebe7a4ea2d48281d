"""Latency of `ask` on the brief: cold start (process start to answer, as `brief ask` runs it) and warm
(one loaded Assistant answering the question set, warmed up as `brief serve` warms it: models loaded and the
indexed sentences pre-read into the prompt cache), over a fresh index of seeds/. Prints medians and p95s, and
where the warm time goes (retrieval and the decision, then the model's reading or writing).

    .venv/bin/python scripts/bench/bench_ask.py [--cold-runs 3] [--no-prefill] [--profile quality]

The quality profile's model reads the retrieved passages whole: its warm-up is one question asked before the
timed ones (the first reading fills the prompt cache), not the default profile's pre-read of each sentence.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--questions", type=Path, default=ROOT / "questions" / "brief.jsonl")
    parser.add_argument("--no-prefill", action="store_true", help="skip pre-reading the indexed sentences")
    parser.add_argument("--profile", choices=["default", "quality"], default="default")
    args = parser.parse_args()

    from assistant import Assistant, load_settings
    from workbench.evaluation import Replay, load_questions, percentile

    data_dir = tempfile.mkdtemp(prefix="brief-bench-")
    brief = [sys.executable, "-m", "shells.cli", "--data-dir", data_dir, "--profile", args.profile]
    subprocess.run([*brief, "index", "seeds", "--quiet"], cwd=ROOT, check=True, capture_output=True)
    cold = []
    for _ in range(args.cold_runs):
        started = time.perf_counter()
        subprocess.run(
            [*brief, "ask", "Which critical minerals does Mali hold reserves of?"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        cold.append(time.perf_counter() - started)

    assistant = Assistant(load_settings(data_dir=data_dir, profile=args.profile))
    assistant.warm_up()
    if args.profile == "quality":
        assistant.ask("Which critical minerals does Mali hold reserves of?")
    elif not args.no_prefill:
        assistant.prefill_prompt_cache()
    warm, answered, refused, retrieve, generate = [], [], [], [], []
    replay = Replay(assistant)  # a follow-up is asked after the earlier answer, as `brief eval` asks it
    for item in load_questions(args.questions):
        history = replay.history(item.history)
        started = time.perf_counter()
        answer = assistant.ask(item.question, history=history)
        elapsed = time.perf_counter() - started
        replay.record(item.question, item.history, answer.answer)
        warm.append(elapsed)
        (refused if answer.refused else answered).append(elapsed)
        retrieve.append(answer.timings.retrieve_s)
        generate.append(answer.timings.generate_s)

    def line(name, values):
        if not values:
            return f"{name:<22} n=0"
        median, p95 = statistics.median(values), percentile(values, 0.95)
        return f"{name:<22} n={len(values):<3} median {median:.3f} s   p95 {p95:.3f} s"

    print(line("cold start (process)", cold))
    print(line("warm ask, all", warm))
    print(line("warm ask, answered", answered))
    print(line("warm ask, refused", refused))
    print(line("  retrieve and decide", retrieve))
    print(line("  model reads / writes", generate))


if __name__ == "__main__":
    main()
