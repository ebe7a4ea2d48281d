"""How the answers in `brief eval` reports were made: counts by mode (generated, extractive, refused) and by
the number of sources cited. It is the evidence for `max_generated_sources`: run the evaluation with the
model allowed to combine two sentences, then count how many two-source answers kept the model's text.

    BRIEF_MAX_GENERATED_SOURCES=2 brief eval --out two
    BRIEF_MAX_GENERATED_SOURCES=2 brief --data-dir D eval --squad benchmarks/squad2-dev-normans-rhine.json --out squad-two
    .venv/bin/python scripts/answer_modes.py two/report.json squad-two/report.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def answer_modes(items: list[dict]) -> Counter:
    """(mode, number of sources cited) → how many answers."""
    return Counter((item["mode"], len(item["citations"])) for item in items)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path, help="report.json files written by `brief eval`")
    args = parser.parse_args(argv)
    total: Counter = Counter()
    for path in args.reports:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            counts = answer_modes(report["items"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"{path}: not a brief eval report ({exc})", file=sys.stderr)
            return 2
        print(f"{path} ({report.get('dataset', '?')}):")
        for (mode, sources), n in sorted(counts.items()):
            print(f"  {mode:<10} citing {sources}: {n}")
        total += counts
    multi = {k: n for k, n in total.items() if k[1] > 1}
    kept = sum(n for (mode, _), n in multi.items() if mode == "generated")
    print(f"answers citing two or more sources: {sum(multi.values())}, of which the model's text was kept: {kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
