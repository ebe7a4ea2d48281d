"""Train the quality profile's reading check (assistant/reading_check.py) and write it into the package
(assistant/data/reading_check.joblib).

Data: the quality profile's answers to the chat sets of the training articles (benchmarks/chat/, the articles
`workbench.training.held_out` does not keep apart), as `scripts/bench/heldout_chat.py --training --profile
quality --out RUNS` leaves them: each article indexed alone under RUNS/ARTICLE/data and its `brief eval` report
under RUNS/ARTICLE/quality. The held-out articles' sets are never read here. For every question the model
answered, the same retrieval and answerability inputs are computed again over that index, beside the answer's
own (its short answer, the scores of what it cites, and the model's confirmations of it, asked again here), and
labelled by the eval: answered right (1) or not answerable (0); an answerable question answered wrong is wrong
whether the answer is shown or not, so it is left out. Of retrieval's first passages (`PASSAGES_ASKED`) that
the model's answer does not cite (all of them when the model said NOT STATED), the one the model most says
answers the question is the other answer the check weighs: it is quoted as the assistant quotes it, scored by
the eval the same way and learnt from beside the model's answers.

A logistic regression learns the two apart. Of a question's two answers the check keeps the likelier; its
threshold, the probability below which that answer is withheld, is chosen by the product's objective, questions
handled right (every question counted: those the model refused and those it answered wrong too), over two sets
pooled: the training articles' questions, scored by out-of-fold probabilities grouped by article (no article is
scored by a model that saw it), and the dev split of questions/brief-users.jsonl, asked here through the quality
profile over the brief with the check off (the split the answerability model's threshold is chosen on; the chat
sets alone chose a threshold that withheld right answers about the brief). Its test split, the brief's other
sets and SQuAD Normans/Rhine are never read.
The curve and the figures without the check are kept with the model.

    .venv/bin/python scripts/bench/heldout_chat.py --training --profile quality --out RUNS
    .venv/bin/python scripts/train/train_reading_check.py --runs RUNS
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "train"))

from kernel.settings import ConfigError, load_settings  # noqa: E402
from workbench.training import held_out  # noqa: E402

CHAT = ROOT / "benchmarks" / "chat"
SEEDS = ROOT / "seeds"
DEV_QUESTIONS = ROOT / "questions" / "brief-users.jsonl"  # its "dev" split joins the choice of threshold
OUTPUT = ROOT / "assistant" / "data" / "reading_check.joblib"
FOLDS = 5
GRID = [round(0.05 * i, 2) for i in range(1, 20)]


def model():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=2000))


def checked_rows(assistant, items: list[dict], questions: dict[str, object]) -> list[dict]:
    """Report items (`brief eval` rows) as the check sees them: per question, the answers it chooses between,
    each with its label (answered right) and, when the check weighs it, its inputs, computed again over the
    index the questions were asked of: the model's answer, when it gave one, and the passage of retrieval's first
    few that the model most confirms, of those that answer does not cite, quoted as the assistant quotes it
    and scored by the eval (`questions`: the items by id)."""
    from assistant.answers import Answer
    from workbench.evaluation import SourceReader, score_item

    read_source = SourceReader(assistant.documents.texts())
    support = assistant.settings.grounding.support_threshold
    rows = []
    for item in items:
        row = {"id": item["id"], "answerable": item["answerable"], "choices": []}
        asked = assistant.analyse(item["question"], [{"role": "user", "content": h} for h in item["history"]])
        decision = assistant.decide(asked)
        if not item["refused"]:
            answer = {"right": bool(item["answerable"] and item["scores"]["correct"]), "features": None, "top": False}
            if decision.features:  # an overview is answered before the model reads: never checked
                given = Answer.model_validate(
                    {k: item[k] for k in ("answer", "refused", "short_answer", "mode", "citations")}
                )
                answer["features"] = assistant.check_inputs(asked, given, decision)
            row["choices"].append(answer)
        cited = {(c["source"], c["start"]) for c in item["citations"]} if not item["refused"] else set()
        top = assistant.confirmed_passage_answer(asked, decision, cited) if decision.features else None
        if top is not None:
            passage, confirmation = top
            scored = score_item(questions[item["id"]], passage.to_public(), [], read_source, support)
            inputs = assistant.check_inputs(asked, passage, decision, confirmation)
            row["choices"].append(
                {"right": bool(item["answerable"] and scored["correct"]), "features": inputs, "top": True}
            )
        rows.append(row)
    return rows


def article_rows(run: Path, chat_model=None) -> tuple[str, list[dict], object]:
    """One training article's questions, from its quality report, and the chat model that confirmed its
    answers (to pass on: the model is loaded once)."""
    from assistant.assistant import Assistant
    from workbench.evaluation import load_questions

    title = (CHAT / f"{run.name}.txt").read_text(encoding="utf-8").splitlines()[0].strip()
    if held_out(title):
        raise ValueError(f"{run.name} is a held-out article: the check is trained on the others only")
    report = json.loads((run / "quality" / "report.json").read_text(encoding="utf-8"))
    (pipeline,) = report["pipelines"].values()
    questions = {q.id: q for q in load_questions(CHAT / f"{run.name}.jsonl")}
    assistant = Assistant(load_settings(data_dir=run / "data", profile="quality"), chat_model=chat_model)
    return title, checked_rows(assistant, pipeline["items"], questions), assistant.chat_model


def dev_rows(chat_model=None) -> list[dict]:
    """The dev split of the brief's users' questions, asked through the quality profile over a fresh index of
    the brief with the check off."""
    import tempfile

    from assistant.assistant import Assistant
    from index.pipeline import index_paths
    from workbench.evaluation import load_questions
    from workbench.workbench import answer_everything

    with tempfile.TemporaryDirectory(prefix="brief-train-check-") as data_dir:
        settings = load_settings(data_dir=data_dir, profile="quality", reading_check_threshold=0.0)
        index_paths([SEEDS], settings, progress=False)
        dev = [i for i in load_questions(DEV_QUESTIONS) if i.split == "dev"]
        answered = answer_everything(settings, dev, progress=True)
        return checked_rows(Assistant(settings, chat_model=chat_model), answered, {q.id: q for q in dev})


def handled_right(rows: list[dict], chance: dict[int, float] | None, threshold: float = 0.0) -> int:
    """Questions handled right when the check, at `threshold`, keeps of each question's choices the one with
    the highest `chance` (by the choice's id()) or withholds both; without a check (`chance` None), the
    model's answer as it was given. A choice without inputs (an overview) is kept unchecked."""
    right = 0
    for row in rows:
        answers = [c for c in row["choices"] if not c["top"]]
        if chance is None or any(c["features"] is None for c in answers):
            kept = answers[0] if answers else None
        else:
            best = max(row["choices"], key=lambda c: chance[id(c)], default=None)
            kept = best if best is not None and chance[id(best)] >= threshold else None
        right += kept["right"] if kept is not None else (not row["answerable"])
    return right


def out_of_fold(learn: list[dict], groups: list[str], choices: list[dict], choice_groups: list[str]):
    """Each choice's probability (by id()) from a model fitted on the other articles' rows: the folds are
    the articles `learn` is split into, and every choice of an article, learnt from or not, is scored by the
    model its fold's articles were left out of."""
    import numpy as np
    from sklearn.model_selection import GroupKFold

    x, y = matrix(learn), np.array([int(r["right"]) for r in learn])
    fold_of = {}
    for fold, (_, test) in enumerate(GroupKFold(FOLDS).split(x, y, groups)):
        fold_of |= {groups[i]: fold for i in test}
    chance = {}
    for fold in range(FOLDS):
        train = [i for i, g in enumerate(groups) if fold_of[g] != fold]
        fitted = model().fit(x[train], y[train])
        scored = [c for c, g in zip(choices, choice_groups, strict=True) if fold_of.get(g) == fold]
        if scored:
            chance |= dict(zip(map(id, scored), fitted.predict_proba(matrix(scored))[:, 1], strict=True))
    return x, y, chance


def matrix(choices: list[dict]):
    import numpy as np

    from assistant.reading_check import FEATURES

    return np.array([[c["features"][f] for f in FEATURES] for c in choices], dtype=float)


def main(argv=None) -> int:
    import sklearn
    from train_answerability import write_bundle

    from assistant.reading_check import FEATURES, TRAINER

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True, help="heldout_chat.py --training --profile quality --out")
    args = parser.parse_args(argv)
    runs = sorted(p.parent.parent for p in args.runs.glob("*/quality/report.json"))
    if not runs:
        print(f"error: no quality reports under {args.runs}/ARTICLE/quality/", file=sys.stderr)
        return 2
    everything, learn, groups, choices, choice_groups, chat_model = [], [], [], [], [], None
    try:
        for run in runs:
            title, rows, chat_model = article_rows(run, chat_model)
            print(f"{run.name}: {len(rows)} questions", file=sys.stderr)
            everything += rows
            for r in rows:
                for c in r["choices"]:
                    if c["features"] is None:
                        continue
                    choices.append(c)
                    choice_groups.append(title)
                    if c["right"] or not r["answerable"]:
                        learn.append(c)
                        groups.append(title)
    except (ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    x, y, chance = out_of_fold(learn, groups, choices, choice_groups)
    fitted = model().fit(x, y)
    dev = dev_rows(chat_model)
    dev_choices = [c for r in dev for c in r["choices"] if c["features"] is not None]
    dev_chance = dict(zip(map(id, dev_choices), fitted.predict_proba(matrix(dev_choices))[:, 1], strict=True))
    curve = []
    for threshold in GRID:
        right = handled_right(everything, chance, threshold)
        dev_right = handled_right(dev, dev_chance, threshold)
        curve.append(
            {
                "threshold": threshold,
                "handled_right": round(100 * (right + dev_right) / (len(everything) + len(dev)), 1),
                "training_articles": round(100 * right / len(everything), 1),
                "brief_users_dev": round(100 * dev_right / len(dev), 1),
            }
        )
    chosen = max(curve, key=lambda c: (c["handled_right"], -abs(c["threshold"] - 0.5)))
    provenance = {
        "runs": "scripts/bench/heldout_chat.py --training --profile quality",
        "articles": sorted(set(groups)),
        "questions": len(everything),
        "rows": {"answered_right": int(y.sum()), "answered_not_answerable": int(len(y) - y.sum())},
        "top_passages_weighed": sum(c["top"] for c in choices),
        "model": "logistic regression (C=0.3), standardised inputs",
        "rule": "of the model's answer and the passage of retrieval's first few it does not cite that the model "
        "most confirms, the one with the higher probability is kept; the threshold is the probability below which "
        "withholding it handles the most questions right: the training articles' (out of fold, by article) and "
        "the brief's users' dev split's, pooled",
        "folds": f"{FOLDS}, grouped by article",
        "dev": f"{DEV_QUESTIONS.name} (split dev, {len(dev)} questions)",
        "without_check": {
            "training_articles": round(100 * handled_right(everything, None) / len(everything), 1),
            "brief_users_dev": round(100 * handled_right(dev, None) / len(dev), 1),
        },
        "chosen": chosen,
        "curve": curve,
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "trained": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    bundle = {"model": fitted, "features": list(FEATURES), "threshold": chosen["threshold"]}
    write_bundle(bundle | {"provenance": provenance}, OUTPUT)
    print(json.dumps(provenance | {"curve": "(in the .json)"}, indent=2))
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes), threshold {chosen['threshold']} ({TRAINER})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
