"""The product's figures on the chat-style sets of the held-out articles (benchmarks/chat/, the articles
`workbench.training.held_out` keeps apart from training): each document indexed alone, as a user with one
document would have it, and its 45 questions asked through `brief eval`. Prints each article's line and the
pooled figures; the reports stay in OUT/ARTICLE/PROFILE for `brief eval --diff`.

    .venv/bin/python scripts/bench/heldout_chat.py --out OUT [--profile quality] [--limit N] [--training]

With `--training` it runs the other articles' sets instead, the ones a decision may be chosen on.

An article already indexed in OUT is not indexed again; a finished report is kept (delete it to measure again).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from workbench.evaluation import summarise  # noqa: E402
from workbench.training import held_out  # noqa: E402

CHAT = ROOT / "benchmarks" / "chat"


def articles(training: bool = False) -> list[str]:
    """The held-out articles' file names (or, with `training`, the others), by the same split as the
    answerability model's training."""
    names = []
    for document in sorted(CHAT.glob("*.txt")):
        title = document.read_text(encoding="utf-8").splitlines()[0].strip()
        if held_out(title) != training:
            names.append(document.stem)
    return names


def run(out: Path, name: str, profile: str, limit: int | None) -> dict:
    data_dir = out / name / "data"
    report = out / name / profile / "report.json"
    brief = [sys.executable, "-m", "shells.cli", "--data-dir", str(data_dir), "--profile", profile]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    if not (data_dir / ".indexed").exists():
        subprocess.run([*brief, "index", str(CHAT / f"{name}.txt"), "--quiet"], cwd=ROOT, env=env, check=True)
        (data_dir / ".indexed").touch()
    if not report.exists():
        ask = [*brief, "eval", "--quiet", "--questions", str(CHAT / f"{name}.jsonl"), "--out", str(report.parent)]
        subprocess.run(ask + (["--limit", str(limit)] if limit else []), cwd=ROOT, env=env, check=True)
    return json.loads(report.read_text(encoding="utf-8"))


def line(label: str, rows: list[dict]) -> str:
    """One table row of `brief eval`'s own summary of these rows."""
    s = summarise(rows)

    def pct(key):
        return f"{100 * s[key]:5.1f} %" if s[key] is not None else "    –  "

    return (
        f"{label:28} {s['items']:4}  {pct('handled_right')}  {pct('answerable_correct')}"
        f"  {pct('unanswerable_refused')}  {pct('hit@1')}  {pct('hit@5')}"
        f"  {s['latency_median_s']:6.2f} / {s['latency_p95_s']:6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="indexes and reports, reused")
    parser.add_argument("--profile", choices=["default", "quality"], default="default")
    parser.add_argument("--limit", type=int, help="a fixed random sample of N questions per article")
    parser.add_argument("--training", action="store_true", help="the training articles instead (to choose on)")
    args = parser.parse_args()
    header = f"{'article':28} {'n':>4}  handled  answ.ok  refused  hit@1    hit@5    latency median / p95"
    lines, pooled = [header], []
    for name in articles(args.training):
        report = run(args.out.resolve(), name, args.profile, args.limit)
        (pipeline,) = report["pipelines"].values()
        rows = pipeline["items"]
        pooled += rows
        lines.append(line(name, rows))
        print(lines[-1], file=sys.stderr, flush=True)
    lines.append(line("pooled", pooled))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
