"""How fast the local model reads a prompt and writes tokens on this machine (llama.cpp's own timings), which
is what most of an answer's latency comes from.

    .venv/bin/python scripts/bench/bench_model.py [--runs 5]

Each run sends a different ~200-token prompt built from the brief (so none is served from the prompt cache).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import xllamacpp

    from assistant.llm import bundled_gguf_path, quiet_stderr

    params = xllamacpp.CommonParams()
    params.model.path = str(bundled_gguf_path())
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = args.threads
    params.verbosity = -1
    with quiet_stderr():
        server = xllamacpp.Server(params)
    brief = (ROOT / "seeds" / "us-mali-reengagement-brief.txt").read_text(encoding="utf-8")
    read, written = [], []
    for run in range(args.runs):
        start = (run * 250) % max(1, len(brief) - 900)
        prompt = f"Run {run}. {brief[start : start + 900]}\nQuestion: what does this say?"
        result = server.handle_chat_completions(
            {"messages": [{"role": "user", "content": prompt}], "max_tokens": 40, "temperature": 0}
        )
        timings = result["timings"]
        read.append(timings["prompt_per_second"])
        written.append(timings["predicted_per_second"])
        print(f"run {run}: read {timings['prompt_n']} tokens at {read[-1]:.0f}/s, wrote at {written[-1]:.0f}/s")
    print(
        f"median: reads {statistics.median(read):.0f} tokens/s, writes {statistics.median(written):.0f} tokens/s "
        f"({args.threads} threads)"
    )


if __name__ == "__main__":
    main()
