"""Train the reader that picks the short answer in an evidence sentence (assistant/reader.py) and write it into
the package (assistant/data/reader.joblib, with reader.json: data, split, figures, time).

Data: the answerable questions of benchmarks/squad2-dev-train-articles.json (SQuAD 2.0, CC BY-SA 4.0), as written
and as reworded in benchmarks/squad2-train-paraphrases.jsonl, each with the sentence of its paragraph that holds
the first gold answer. Every candidate stretch of that sentence is a row, labelled 1 when it equals a gold answer
under the official SQuAD normalisation. Articles are split as in scripts/train/train_answerability.py; the held-out
fifth is only reported on: the SQuAD F1 and exact match of the new reader's span against the one in the package
before the run (the first reader was measured against the hand-written picker it replaced: git show
12339b3:assistant/data/reader.json), both given the right sentence. Never the Normans/Rhine test file.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/train/train_reader.py
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

from workbench.training import DATA, PARAPHRASES, SEED, held_out, reader_examples  # the same data and split

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "assistant" / "data" / "reader.joblib"


def main(argv=None) -> int:
    import joblib
    import numpy as np
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from tqdm import tqdm

    from assistant.question import Question
    from assistant.reader import MAX_TOKENS, Reader, candidates
    from workbench.squad import normalize_answer, score_squad

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        previous = Reader(joblib.load(args.output)) if args.output.is_file() else None
    except (ValueError, KeyError):  # trained on other candidates
        previous = None
    data = reader_examples()
    train = [e for e in data if not held_out(e["article"])]
    test = [e for e in data if held_out(e["article"])]
    xs, ys = [], []
    for e in tqdm(train, desc="candidate stretches", unit="question"):
        matches, spans, x = candidates(Question.analyse(e["question"]), e["sentence"])
        gold = {normalize_answer(a) for a in e["answers"]}
        labels = [normalize_answer(e["sentence"][matches[i].start() : matches[j].end()]) in gold for i, j in spans]
        xs.append(x)
        ys.extend(labels)
    x_train, y_train = np.vstack([x for x in xs if len(x)]), np.array(ys, dtype=int)
    model = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.1, max_depth=6, min_samples_leaf=50, l2_regularization=1.0, random_state=SEED
    )
    fit_started = time.perf_counter()
    model.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - fit_started
    bundle = {"model": model, "max_tokens": MAX_TOKENS}
    reader = Reader(bundle)
    report = {}
    for group in ("as written", "reworded"):
        rows = [e for e in test if e["group"] == group]
        readers = {"reader": reader} | ({"previous reader": previous} if previous else {})
        scores = {name: [] for name in readers}
        for e in rows:
            for name, r in readers.items():
                span = r.best(Question.analyse(e["question"]), e["sentence"])
                scores[name].append(score_squad(span.text if span else e["sentence"], e["answers"]))
        report[group] = {"questions": len(rows)} | {
            name: {
                "em": round(100 * float(np.mean([s[0] for s in v])), 1),
                "f1": round(100 * float(np.mean([s[1] for s in v])), 1),
            }
            for name, v in scores.items()
        }
    provenance = {
        "data": [DATA.name, PARAPHRASES.name],
        "data_sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
        "licence": "CC BY-SA 4.0 (SQuAD 2.0)",
        "train_questions": len(train),
        "held_out_questions": len(test),
        "candidate_rows": int(len(y_train)),
        "positive_rows": int(y_train.sum()),
        "seed": SEED,
        "model": "gradient boosting",
        "held_out_given_the_right_sentence": report,
        "fit_seconds": round(fit_seconds, 1),
        "this_run_seconds": round(time.monotonic() - started, 1),
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "trained": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    bundle["provenance"] = provenance
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    joblib.dump(bundle, tmp, compress=3)
    tmp.replace(args.output)
    args.output.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(provenance, indent=2))
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
