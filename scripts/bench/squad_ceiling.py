"""What limits the SQuAD 2.0 score: the refusal decision or the short answers? Runs the pipeline's retrieval,
refusal decision and short-answer extraction on every question (no text generation: the SQuAD prediction is the
short answer, which does not depend on the model's text), then reports, per article and overall:

- as run: the scores the pipeline gets (they match `brief eval --squad` for the same file);
- with perfect refusals: the same short answers, but refusing exactly the unanswerable questions;
- answering everything: the HasAns F1 ceiling of today's retrieval and short answers;
- the refusal operating point the bars need (answer >= a of the answerable, refuse >= r of the rest);
- how well each refusal signal the pipeline has separates answerable from unanswerable questions (AUC);
- the refusal threshold grid: the best overall F1 any threshold on the answerability model's confidence
  reaches, and whether one meets every bar (figures on the test file itself: an upper bound, not a tuning).

    .venv/bin/python scripts/bench/squad_ceiling.py --data-dir /tmp/squad-ceiling
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from kernel.settings import load_settings
from workbench.squad import score_squad

BARS = {"f1": 50.0, "has_ans_f1": 35.0, "no_ans_accuracy": 70.0}
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def scores(rows: list[dict], refuse) -> dict:
    """Overall F1, HasAns F1, NoAns accuracy (the share of unanswerable questions refused) and the share of
    answerable questions answered, in percent, when `refuse(row)` decides each refusal."""
    total = has_ans = no_ans = answered = 0.0
    n_ans = sum(r["answerable"] for r in rows)
    for r in rows:
        refused = refuse(r)
        f1 = score_squad("" if refused else r["prediction"], r["answers"])[1]
        answered += r["answerable"] and not refused
        total += f1
        if r["answerable"]:
            has_ans += f1
        else:
            no_ans += f1
    n_unans = len(rows) - n_ans
    return {
        "f1": round(100 * total / len(rows), 1),
        "has_ans_f1": round(100 * has_ans / n_ans, 1) if n_ans else None,
        "no_ans_accuracy": round(100 * no_ans / n_unans, 1) if n_unans else None,
        "answerable_answered_pct": round(100 * answered / n_ans, 1) if n_ans else None,
    }


def auc(values: list[float], answerable: list[bool]) -> float:
    """Probability that an answerable question scores above an unanswerable one (ties count half)."""
    pos = [v for v, a in zip(values, answerable, strict=True) if a]
    neg = [v for v, a in zip(values, answerable, strict=True) if not a]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 3)


def needed_point(rows: list[dict]) -> dict:
    """The least share of answerable questions to answer (at today's average F1 per answered one) for HasAns
    F1 to reach its bar, and the share of unanswerable ones to refuse then for overall F1 to reach its bar."""
    n, n_ans = len(rows), sum(r["answerable"] for r in rows)
    ceiling = scores(rows, lambda r: False)["has_ans_f1"]
    answer_share = BARS["has_ans_f1"] / ceiling
    refuse_share = (BARS["f1"] * n - BARS["has_ans_f1"] * n_ans) / (n - n_ans)
    return {"answer_at_least_pct": round(100 * answer_share, 1), "refuse_at_least_pct": round(refuse_share, 1)}


def main(argv=None) -> int:
    from assistant.assistant import Assistant
    from assistant.question import Question
    from assistant.reader import short_answer
    from workbench.workbench import WorkbenchError, squad_items

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=Path("benchmarks/squad2-dev-normans-rhine.json"))
    parser.add_argument("--data-dir", type=Path, required=True, help="where the SQuAD paragraphs are indexed")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    try:
        settings, items = squad_items(args.squad, load_settings(data_dir=args.data_dir), None, 0, progress=True)
    except (WorkbenchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    assistant = Assistant(settings)
    rows = []
    for item in tqdm(items, desc="deciding", unit="question"):
        question = Question.analyse(item.question)
        candidates = assistant.retriever.retrieve(question.queries, k=settings.retrieval.coverage_k)
        decision = assistant.refusal.decide(question, candidates)
        rows.append(
            {
                "article": item.gold_sources[0].split("/")[1],
                "answerable": item.answerable,
                "answers": item.answers,
                "prediction": short_answer(question, decision.evidence[0].chunk.text) if decision.evidence else "",
                "refused": decision.refused,
                "confidence": decision.confidence,
                "signals": {
                    "best dense score": decision.features.get("dense_max", 0.0),
                    "share of question words in the best sentence": 1
                    - decision.features.get("best_missing_share", 1.0),
                    "the answerability model's confidence": decision.confidence,
                },
            }
        )
    groups = defaultdict(list)
    for r in rows:
        groups[r["article"]].append(r)
    groups["all"] = rows
    figures = {}
    for name, group in groups.items():
        answerable = [r["answerable"] for r in group]
        figures[name] = {
            "questions": len(group),
            "as run": scores(group, lambda r: r["refused"]),
            "perfect refusals": scores(group, lambda r: not r["answerable"]),
            "answering everything": scores(group, lambda r: False),
            "needed": needed_point(group),
            "signal AUC": {k: auc([r["signals"][k] for r in group], answerable) for k in group[0]["signals"]},
        }
    figures["all"]["threshold grid"] = threshold_grid(rows)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


def threshold_grid(rows: list[dict]) -> dict:
    """Re-decide every refusal at each threshold on the model's confidence (same retrieval, same short
    answers); the best overall F1 reached, the best among thresholds keeping HasAns F1 at its bar, and whether
    any threshold meets every bar."""
    results = [{"refusal_threshold": t} | scores(rows, lambda r, t=t: r["confidence"] < t) for t in THRESHOLDS]
    keeping = [r for r in results if r["has_ans_f1"] >= BARS["has_ans_f1"]]
    return {
        "thresholds": len(results),
        "best f1": max(results, key=lambda r: r["f1"]),
        "best f1 with has_ans_f1 at its bar": max(keeping, key=lambda r: r["f1"]) if keeping else None,
        "thresholds meeting every bar": [r for r in results if all(r[k] >= v for k, v in BARS.items())],
    }


if __name__ == "__main__":
    sys.exit(main())
