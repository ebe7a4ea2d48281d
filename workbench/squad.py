"""SQuAD 2.0 as an evaluation input: load any SQuAD 2.0 JSON file, turn its paragraphs into documents (one per
paragraph, under the article title) and score answers with the official rules."""

from __future__ import annotations

import collections
import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path


class SquadError(ValueError):
    pass


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: list[str]  # empty for unanswerable questions
    paragraph: str  # source name of the gold paragraph

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def paragraph_source(title: str, number: int) -> str:
    return f"squad/{title}/{number}"


def load_squad(path: Path) -> tuple[list[tuple[str, str]], list[SquadQuestion]]:
    """(source, text) documents and the questions. Each document is the title as a heading line, then the
    paragraph, so every sentence's section is the article title."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = data["data"]
    except OSError as exc:
        raise SquadError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SquadError(f"{path}: not a SQuAD 2.0 JSON file ({exc})") from exc
    documents, questions = [], []
    try:
        for article in articles:
            title = article["title"].replace("_", " ")
            for number, paragraph in enumerate(article["paragraphs"]):
                source = paragraph_source(title, number)
                documents.append((source, f"{title}\n{paragraph['context']}"))
                for qa in paragraph["qas"]:
                    answers = [] if qa.get("is_impossible") else [a["text"] for a in qa["answers"]]
                    questions.append(SquadQuestion(qa["id"], qa["question"], answers, source))
    except (KeyError, TypeError) as exc:
        raise SquadError(f"{path}: missing SQuAD field {exc}") from exc
    if not questions:
        raise SquadError(f"{path}: no questions")
    return documents, questions


def sample(questions: list[SquadQuestion], limit: int | None, seed: int) -> list[SquadQuestion]:
    """A fixed random sample (same limit and seed, same items), in file order."""
    if not limit or limit >= len(questions):
        return list(questions)
    chosen = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in chosen]


# The official SQuAD 2.0 evaluation rules.
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = collections.Counter(pred) & collections.Counter(ref)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def score_squad(prediction: str, answers: list[str]) -> tuple[float, float]:
    """(EM, F1), each the maximum over the gold answers; an unanswerable question scores 1 only for ''."""
    if not answers:
        return float(prediction == ""), float(prediction == "")
    return max(exact_match(prediction, a) for a in answers), max(token_f1(prediction, a) for a in answers)
