"""Train the answerability model that decides refusals (assistant/answerability.py) and write it into the
package (assistant/data/answerability.joblib).

Data: benchmarks/squad2-dev-train-articles.json (25 SQuAD 2.0 dev articles, CC BY-SA 4.0; never the
Normans/Rhine test file) and benchmarks/squad2-train-paraphrases.jsonl (1,200 of their questions reworded the
way users ask, each with the label of the question it rewords). The paragraphs are indexed like any SQuAD file
(`brief eval --squad`), every question goes through the real retrieval and `RefusalDecision.assess` (the
signals `ask` decides from), and a classifier learns answerable (1) against unanswerable (0). Each answerable
question is also taken once more with its gold paragraph's sentences removed from the candidates, as
unanswerable: the case of a collection that simply lacks the answer, which SQuAD's unanswerable questions (all
written beside a paragraph on their topic) never show.

SQuAD's questions, even reworded, are not what people type into a chat ("is it run by civilians?", "name the
…", "and who led it"). benchmarks/chat/ holds short documents (the first paragraphs of each article) with
questions written that way; each document is indexed alone and every question asked through the real
pipeline, and those rows are labelled by whether answering is right (the eval's rule), weighted CHAT_WEIGHT.

Articles are split, by a hash of their title, into a training part and a held-out part that is only reported
on, the questions as written and the reworded ones apart. Both logistic regression and gradient boosting are
fitted on the training part; the one with the lower held-out log-loss is kept, calibrated (isotonic,
cross-fitted on the training part), and its probability is the decision's confidence: no rule on words stands
in front of it. Its operating point, the confidence at or above which `ask` answers, is chosen by the
product's objective, questions handled right (answerable: answered right and cited; unanswerable: not
answered), on the dev split of questions/brief-users.jsonl (the brief's questions in its users' words), asked
through the real pipeline over the brief; its test split, the paraphrase set and the Normans/Rhine file are
never used here. The risk–coverage curve on that split is kept with the model.

Stages are cached under --cache (retrieval results, then features); a stage that runs out of its time budget
stops, and the next run continues it; once both are complete a rerun only fits. On a busy machine one torch
thread is several times faster than two fighting for the cores:

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/train/train_answerability.py \
        --data-dir /tmp/train-data --cache /tmp/train-cache --questions 4000
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import random
import sys
import time
from pathlib import Path

from kernel.settings import load_settings
from workbench.training import DATA, PARAPHRASES, SEED, held_out, rewordings

ROOT = Path(__file__).resolve().parents[2]
DEV_QUESTIONS = ROOT / "questions" / "brief-users.jsonl"  # its "dev" split chooses the operating point
SEEDS = ROOT / "seeds"
CHAT = ROOT / "benchmarks" / "chat"  # short documents with questions typed the way users chat (README there)
# Each chat question counts as this many SQuAD rows in the fit: they are few (about a thousand against
# several thousand) and they are the kind of question the product is asked.
CHAT_WEIGHT = 3.0
OUTPUT = ROOT / "assistant" / "data" / "answerability.joblib"


def is_paraphrase(row_id: str) -> bool:
    return row_id.split("/")[1:2] == ["paraphrase"]


def paraphrased(items, path: Path = PARAPHRASES) -> list:
    """Each question of `path` (benchmarks/README.md: the training articles' questions reworded the way users
    ask) as an item of its own, with the answers and label of the question it rewords. SQuAD's questions reuse
    their paragraph's words; without these the model learns that a question in other words is unanswerable."""
    by_id = {i.id: i for i in items}
    return [
        by_id[qid].model_copy(update={"id": f"{qid}/paraphrase", "question": question})
        for qid, question in rewordings(path).items()
        if qid in by_id
    ]


def retrieve_all(assistant, items, path: Path, budget_s: float) -> bool:
    """Append each question's retrieval candidates to `path` (resumable); False if the time budget ran out."""
    from tqdm import tqdm

    from assistant.question import Question

    done = rows_done(path)
    todo = [i for i in items if i.id not in done]
    started = time.monotonic()
    with path.open("a", encoding="utf-8") as out:
        for item in tqdm(todo, desc="retrieving", unit="question"):
            if time.monotonic() - started > budget_s:
                return False
            found = assistant.retriever.retrieve(
                Question.analyse(item.question).queries, k=assistant.settings.retrieval.coverage_k
            )
            out.write(json.dumps({"id": item.id, "candidates": [e.model_dump() for e in found]}) + "\n")
    return True


def load_candidates(candidates_path: Path) -> dict:
    """question id -> its retrieved candidates, as cached by the retrieval step."""
    from assistant.answers import Evidence

    candidates = {}
    for line in whole_lines(candidates_path):
        row = json.loads(line)
        candidates[row["id"]] = [Evidence.model_validate(e) for e in row["candidates"]]
    return candidates


def whole_lines(path: Path) -> list[str]:
    """The complete lines of a resumable cache file. A run killed in the middle of a write leaves a last line
    without its newline: it is cut off here, so that the next append starts on a line of its own."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    whole = text[: text.rfind("\n") + 1]
    if len(whole) != len(text):
        with path.open("r+", encoding="utf-8") as fh:
            fh.truncate(len(whole.encode("utf-8")))
    return [line for line in whole.splitlines() if line]


def rows_done(path: Path) -> set[str]:
    """The ids already written to a resumable features file."""
    return {json.loads(line)["id"] for line in whole_lines(path)}


def featurise_all(assistant, items, candidates_path: Path, path: Path, budget_s: float) -> bool:
    """Append each question's features, label and short-answer F1 to `path` (resumable)."""
    from tqdm import tqdm

    from assistant.question import Question
    from assistant.reader import short_answer
    from workbench.squad import score_squad

    candidates = load_candidates(candidates_path)
    done = rows_done(path)
    todo = [i for i in items if i.id not in done and i.id in candidates]
    started = time.monotonic()
    with path.open("a", encoding="utf-8") as out:
        for item in tqdm(todo, desc="features", unit="question"):
            if time.monotonic() - started > budget_s:
                return False
            found = candidates[item.id]
            question = Question.analyse(item.question)
            ranked, evidence, values = assistant.refusal.assess(question, found)
            prediction = short_answer(question, evidence[0].chunk.text) if evidence else ""
            gold = item.gold_sources[0]
            row = {
                "id": item.id,
                "article": gold.split("/")[1],
                "answerable": item.answerable,
                "answer_f1": score_squad(prediction, item.answers)[1] if item.answerable else 0.0,
                "gold_hit5": any(c.evidence.chunk.source == gold for c in ranked[:5]),
                "first_holds": item.answerable and holds_answer(item, ranked[0].evidence),
                "features": values,
            }
            out.write(json.dumps(row) + "\n")
    return True


def featurise_without_gold(assistant, items, candidates_path: Path, path: Path, budget_s: float) -> bool:
    """Append, for each answerable question, the features of its candidates with every sentence of its gold
    paragraph removed, labelled unanswerable: the collection lacks the answer, though other sentences share
    the question's words ("What is Mali's population?" over a brief that never gives it). SQuAD's own
    unanswerable questions all sit beside a paragraph on their topic, so without these the model never sees
    a question whose answer is simply not there."""
    from tqdm import tqdm

    from assistant.question import Question

    candidates = load_candidates(candidates_path)
    done = rows_done(path)
    todo = [i for i in items if i.answerable and f"{i.id}/without-gold" not in done and i.id in candidates]
    started = time.monotonic()
    with path.open("a", encoding="utf-8") as out:
        for item in tqdm(todo, desc="features without the gold paragraph", unit="question"):
            if time.monotonic() - started > budget_s:
                return False
            found = [e for e in candidates[item.id] if e.chunk.source != item.gold_sources[0]]
            if not found:
                continue
            _, _, values = assistant.refusal.assess(Question.analyse(item.question), found)
            row = {
                "id": f"{item.id}/without-gold",
                "article": item.gold_sources[0].split("/")[1],
                "answerable": False,
                "answer_f1": 0.0,
                "gold_hit5": False,
                "first_holds": False,
                "without_gold": True,
                "features": values,
            }
            out.write(json.dumps(row) + "\n")
    return True


def chat_sets(folder: Path = CHAT) -> list[tuple[str, Path, Path]]:
    """(article, document, questions) for each chat set: `NAME.txt`, whose first line is its SQuAD article's
    title, beside `NAME.jsonl`."""
    out = []
    for document in sorted(folder.glob("*.txt")):
        questions = document.with_suffix(".jsonl")
        if questions.is_file():
            title = document.read_text(encoding="utf-8").splitlines()[0].strip()
            out.append((title, document, questions))
    return out


def featurise_chat(path: Path, budget_s: float, progress: bool) -> bool:
    """Append, for each chat question, the decision's features and whether answering it is right: each
    document indexed alone (a small collection, like a brief) and every question asked through the real
    pipeline with no threshold, as `brief eval --tune` does, and scored by the eval's rules (answerable:
    answered right and cited). The label is that, so the model learns when an answer would be right, not only
    whether the text holds one. Resumable by document."""
    import tempfile

    from assistant.assistant import Assistant
    from index.pipeline import index_paths
    from workbench.evaluation import answered_right, load_questions
    from workbench.workbench import answer_everything

    done = rows_done(path)
    started = time.monotonic()
    for article, document, questions in chat_sets():
        items = [i for i in load_questions(questions) if f"chat/{i.id}" not in done]
        if not items:
            continue
        if time.monotonic() - started > budget_s:
            return False
        print(f"chat set {document.name}: {len(items)} questions", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="brief-train-chat-") as data_dir:
            settings = load_settings(data_dir=data_dir)
            index_paths([document], settings, progress=False)
            scored = {r["id"]: r for r in answer_everything(settings, items, progress)}
            assistant = Assistant(settings)
            rows = []
            for item in items:
                history = [{"role": "user", "content": h} for h in item.history]
                decision = assistant.decide(assistant.analyse(item.question, history))
                if not decision.features:
                    continue
                rows.append(
                    {
                        "id": f"chat/{item.id}",
                        "article": article,
                        "answerable": item.answerable,
                        "answered_right": answered_right(scored[item.id]),
                        "features": decision.features,
                    }
                )
        with path.open("a", encoding="utf-8") as out:  # a document's rows together: a kill redoes it whole
            out.write("".join(json.dumps(r) + "\n" for r in rows))
    return True


def squad_f1(probabilities, rows, threshold: float) -> dict:
    """SQuAD F1, HasAns F1 and NoAns accuracy (percent) when answering exactly where p >= threshold."""
    total = has = no = 0.0
    n_ans = sum(r["answerable"] for r in rows)
    for p, r in zip(probabilities, rows, strict=True):
        answered = p >= threshold
        f1 = (r["answer_f1"] if answered else 0.0) if r["answerable"] else float(not answered)
        total += f1
        has += f1 if r["answerable"] else 0.0
        no += 0.0 if r["answerable"] else f1
    return {
        "f1": round(100 * total / len(rows), 1),
        "has_ans_f1": round(100 * has / n_ans, 1),
        "no_ans_accuracy": round(100 * no / (len(rows) - n_ans), 1),
        "answerable_answered": round(
            100 * sum(p >= threshold for p, r in zip(probabilities, rows, strict=True) if r["answerable"]) / n_ans, 1
        ),
        "answerable_answered_right": round(
            100
            * sum(
                p >= threshold and r["first_holds"] for p, r in zip(probabilities, rows, strict=True) if r["answerable"]
            )
            / n_ans,
            1,
        ),
    }


def holds_answer(item, evidence) -> bool:
    """A candidate from the gold paragraph that contains one of the gold answers."""
    text = evidence.chunk.text.lower()
    return evidence.chunk.source == item.gold_sources[0] and any(a.lower() in text for a in item.answers)


def fit(rows: list[dict], without_gold: list[dict], chat: list[dict]) -> dict:
    """Fit both classifiers on the training articles' questions (as written and reworded), their without-gold
    negatives and their chat questions (label: answering is right; weight CHAT_WEIGHT); keep the one with the
    lower log-loss on the held-out articles' chat questions (the kind the product is asked; SQuAD's when there
    are none) and report on the held-out articles: SQuAD as written and reworded apart, the without-gold
    negatives, and the chat questions."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from assistant.answerability import FEATURES

    train = [r for r in rows if not held_out(r["article"])]
    test = [r for r in rows if held_out(r["article"])]
    extra_train = [r for r in without_gold if not held_out(r["article"])]
    extra_test = [r for r in without_gold if held_out(r["article"])]
    chat_train = [r for r in chat if not held_out(r["article"])]
    chat_test = [r for r in chat if held_out(r["article"])]

    def label(r) -> int:
        return int(r["answered_right"] if "answered_right" in r else r["answerable"])

    def matrix(group):
        x = np.array([[r["features"][f] for f in FEATURES] for r in group], dtype=float)
        return x, np.array([label(r) for r in group])

    fitted_on = train + extra_train + chat_train
    x_train, y_train = matrix(fitted_on)
    weights = np.array([CHAT_WEIGHT if r["id"].startswith("chat/") else 1.0 for r in fitted_on])
    models = {
        "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)),
        "gradient boosting": HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_depth=3, min_samples_leaf=40, l2_regularization=1.0, random_state=SEED
        ),
    }
    groups = {
        "as written": [r for r in test if not is_paraphrase(r["id"])],
        "reworded": [r for r in test if is_paraphrase(r["id"])],
        "chat": chat_test,
    }
    report = {}
    for name, model in models.items():
        started = time.perf_counter()
        key = "logisticregression__sample_weight" if name == "logistic regression" else "sample_weight"
        model.fit(x_train, y_train, **{key: weights})
        report[name] = {"fit_seconds": round(time.perf_counter() - started, 2)}
    choose_x, choose_y = matrix(chat_test or test)
    chosen = min(models, key=lambda n: log_loss(choose_y, models[n].predict_proba(choose_x)[:, 1], labels=[0, 1]))
    calibrated = CalibratedClassifierCV(models[chosen], method="isotonic", cv=5).fit(
        x_train, y_train, sample_weight=weights
    )
    for name, model in [*models.items(), ("calibrated " + chosen, calibrated)]:
        held = {}
        for group_label, group in groups.items():
            if group:
                x_group, y_group = matrix(group)
                p_group = model.predict_proba(x_group)[:, 1]
                held[group_label] = {
                    "questions": len(group),
                    "auc": round(roc_auc_score(y_group, p_group), 4),
                    "log_loss": round(log_loss(y_group, p_group, labels=[0, 1]), 4),
                    "brier": round(brier_score_loss(y_group, p_group), 4),
                }
        report.setdefault(name, {})["held_out"] = held
    return {
        "model": calibrated,
        "name": f"{chosen}, calibrated",
        "report": report,
        "held_out": groups | {"without gold": extra_test},
        "matrix": matrix,
        "train_articles": sorted({r["article"] for r in train}),
        "held_out_articles": sorted({r["article"] for r in test}),
        "rows": {
            "train": len(train),
            "train_reworded": sum(is_paraphrase(r["id"]) for r in train),
            "train_without_gold": len(extra_train),
            "train_chat": len(chat_train),
            "held_out": len(test),
            "held_out_reworded": len(groups["reworded"]),
            "held_out_without_gold": len(extra_test),
            "held_out_chat": len(chat_test),
        },
        "held_out_gold_hit5": round(
            100 * sum(r["gold_hit5"] for r in test if r["answerable"]) / max(1, sum(r["answerable"] for r in test)), 1
        ),
    }


def chat_handled_right(probabilities, rows: list[dict], threshold: float) -> int:
    """Chat questions handled right when answering where p >= threshold: answered and right, or not answered
    and unanswerable."""
    return sum(
        r["answered_right"] if q >= threshold else not r["answerable"] for q, r in zip(probabilities, rows, strict=True)
    )


def squad_handled_right(model, matrix, groups: dict, threshold: float) -> dict:
    """On the held-out articles, at the chosen operating point: the share of questions handled right, answering
    where the confidence reaches the threshold and counting an answer right when its first sentence holds the
    answer; and SQuAD F1 of the short answers."""
    from workbench.workbench import THRESHOLD_GRID

    out = {}
    for label, group in groups.items():
        if not group:
            continue
        x, _ = matrix(group)
        p = model.predict_proba(x)[:, 1]
        if label == "chat":
            out[label] = {"handled_right": round(100 * chat_handled_right(p, group, threshold) / len(group), 1)}
            # A ceiling, not a choice: the best any operating point could do on these questions with this model.
            best = max(THRESHOLD_GRID, key=lambda t: chat_handled_right(p, group, t))
            share = round(100 * chat_handled_right(p, group, best) / len(group), 1)
            out[label]["best_operating_point_here"] = {"threshold": best, "handled_right": share}
            continue
        right = sum(
            (q >= threshold) == r["answerable"] and (not r["answerable"] or r["first_holds"])
            for q, r in zip(p, group, strict=True)
        )
        out[label] = {"handled_right": round(100 * right / len(group), 1)}
        if label != "without gold":
            out[label] |= squad_f1(list(p), group, threshold)
    return out


def choose_operating_point(progress: bool) -> dict:
    """Ask the dev split of the brief's users' questions through the real pipeline over a fresh index of the
    brief, answering everything (the packaged model must be the one just written), and choose the threshold
    that handles the most right (`brief eval --tune`'s rule)."""
    import tempfile

    from index.pipeline import index_paths
    from workbench.evaluation import best_operating_point, load_questions, operating_curve
    from workbench.workbench import THRESHOLD_GRID, answer_everything

    with tempfile.TemporaryDirectory(prefix="brief-train-dev-") as data_dir:
        settings = load_settings(data_dir=data_dir)
        index_paths([SEEDS], settings, progress=False)
        dev = [i for i in load_questions(DEV_QUESTIONS) if i.split == "dev"]
        curve = operating_curve(answer_everything(settings, dev, progress), THRESHOLD_GRID)
    return {"questions": len(dev), "chosen": best_operating_point(curve), "curve": curve}


def main(argv=None) -> int:
    import sklearn

    from assistant.answerability import FEATURES
    from assistant.assistant import Assistant
    from workbench.workbench import WorkbenchError, squad_items

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="where the training paragraphs are indexed")
    parser.add_argument("--cache", type=Path, required=True, help="retrieval results and features, reused")
    parser.add_argument("--budget", type=float, default=450, help="seconds per run for each stage (resumable)")
    parser.add_argument("--questions", type=int, help="train on a seeded random sample of this many questions")
    parser.add_argument(
        "--fit-only", action="store_true", help="fit on the features computed so far (the sample's first questions)"
    )
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    try:
        settings, items = squad_items(DATA, load_settings(data_dir=args.data_dir), None, SEED, progress=True)
    except (WorkbenchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    assistant = Assistant(settings)
    started = time.monotonic()
    rewordings = paraphrased(items)
    if args.questions:  # a seeded random sample, the same for the same number
        items = random.Random(SEED).sample(items, min(args.questions, len(items)))
    items = rewordings + items  # the reworded questions first: a budget that runs out keeps them
    cache = args.cache
    if not args.fit_only:
        if not retrieve_all(assistant, items, cache / "candidates.jsonl", args.budget):
            print("time budget used: the rest is retrieved on the next run; fitting on what is retrieved")
        for stage, path in [(featurise_all, "features.jsonl"), (featurise_without_gold, "without-gold.jsonl")]:
            if not stage(assistant, items, cache / "candidates.jsonl", cache / path, args.budget):
                print("time budget used: the rest is computed on the next run; fitting on what is computed")
        ensure_packaged_model(cache)
        if not featurise_chat(cache / "chat.jsonl", args.budget, progress=True):
            print("time budget used: the other chat sets are asked on the next run; fitting on what is asked")
    wanted = {i.id for i in items}
    lines = whole_lines(args.cache / "features.jsonl")
    rows = list({row["id"]: row for row in map(json.loads, lines) if row["id"] in wanted}.values())
    if any(set(r["features"]) != set(FEATURES) for r in rows):
        print("error: cached features differ from assistant.answerability.FEATURES; delete features.jsonl")
        return 2
    extra = args.cache / "without-gold.jsonl"
    without_gold = [json.loads(line) for line in whole_lines(extra)]
    wanted_extra = {f"{i}/without-gold" for i in wanted}
    without_gold = list({r["id"]: r for r in without_gold if r["id"] in wanted_extra}.values())
    chat_path = args.cache / "chat.jsonl"
    chat = [json.loads(line) for line in whole_lines(chat_path)]
    if any(set(r["features"]) != set(FEATURES) for r in chat):
        print("error: cached chat features differ from assistant.answerability.FEATURES; delete chat.jsonl")
        return 2
    result = fit(rows, without_gold, chat)
    provenance = {
        "data": DATA.name,
        "data_sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
        "licence": "CC BY-SA 4.0 (SQuAD 2.0)",
        "train_articles": result["train_articles"],
        "held_out_articles": result["held_out_articles"],
        "rows": result["rows"],
        "seed": SEED,
        "model": result["name"],
        "paraphrases": PARAPHRASES.name,
        "chat_sets": [d.name for _, d, _ in chat_sets()],
        "chat_weight": CHAT_WEIGHT,
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "trained": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "report": result["report"],
        "held_out_gold_hit5": result["held_out_gold_hit5"],
    }
    bundle = {"model": result["model"], "features": list(FEATURES), "threshold": 0.5, "provenance": provenance}
    write_bundle(bundle, OUTPUT)  # the pipeline over the dev split reads the packaged model
    operating = choose_operating_point(progress=True)
    threshold = operating["chosen"]["threshold"]
    provenance["operating_point"] = {
        "rule": "the confidence threshold that handles the most questions of the dev split right",
        "dev": f"{DEV_QUESTIONS.name} (split dev)",
        **operating,
        "held_out_squad": squad_handled_right(result["model"], result["matrix"], result["held_out"], threshold),
    }
    provenance["this_run_seconds"] = round(time.monotonic() - started, 1)
    write_bundle(bundle | {"threshold": threshold}, OUTPUT)
    print(json.dumps(provenance, indent=2))
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes), threshold {threshold}")
    return 0


def ensure_packaged_model(cache: Path) -> None:
    """The chat stage asks questions through the real pipeline, which reads the packaged model: when that was
    trained on other features, an interim one fitted on the SQuAD rows stands in (the chat labels and
    features do not depend on it; every question is answered)."""
    from assistant.answerability import load_model

    try:
        load_model()
        return
    except ValueError:
        pass
    from assistant.answerability import FEATURES

    rows = [json.loads(line) for line in whole_lines(cache / "features.jsonl")]
    without_gold = [json.loads(line) for line in whole_lines(cache / "without-gold.jsonl")]
    interim = fit(rows, without_gold, [])
    bundle = {"model": interim["model"], "features": list(FEATURES), "threshold": 0.5, "provenance": {"interim": True}}
    write_bundle(bundle, OUTPUT)


def write_bundle(bundle: dict, output: Path) -> None:
    """The model and its provenance beside it, each written whole or not at all."""
    import joblib

    from assistant.answerability import load_model

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    joblib.dump(bundle, tmp, compress=3)
    tmp.replace(output)
    provenance = output.with_suffix(".json")
    provenance.with_suffix(".tmp").write_text(json.dumps(bundle["provenance"], indent=2) + "\n", encoding="utf-8")
    provenance.with_suffix(".tmp").replace(provenance)
    load_model.cache_clear()


if __name__ == "__main__":
    sys.exit(main())
