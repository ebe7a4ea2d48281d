"""Is the quality reader's answer right? The 1.5B model answers many questions its passages do not answer
(a chat question that reuses an article's words and asks what it never says), and its own NOT STATED caught
under half of them on the held-out chat sets. A second classifier, learned from the model's answers on the
training articles' chat sets (scripts/train/train_reading_check.py), weighs the answerability model's inputs
together with what the answer looks like: whether its short answer is the kind asked for, how long it is,
whether it only repeats the question, how well retrieval scored what it cites, and the model's own yes to
"does this passage state this answer?" asked apart from the reading (`model_reader.confirmed`), and to "does
this passage answer this question?" about the same passages, which does not lean on the answer's wording. The model
often cites the wrong passage while retrieval ranked the right one among its first few, so of those the
answer does not cite, the one the model most says answers the question is weighed too, as an answer of its
own (quoted whole, confirmed as a passage, marked `top_passage`): the check keeps whichever of the two it puts
higher. Below its threshold the answer is
withheld and the closest passages are shown instead.

It learns "answered right" against "not answerable": for an answerable question answered wrong, withholding
the answer or not is wrong either way, so those answers teach it nothing about the choice."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from assistant.answerability import FEATURES as DECISION_FEATURES
from assistant.answerability import LearnedDecision, packaged
from assistant.model_reader import confirmed
from assistant.question import Question
from assistant.spans import TOKEN, kind_score
from kernel.text import content_words

MODEL_FILE = "reading_check.joblib"
TRAINER = "scripts/train/train_reading_check.py"
ANSWER_FEATURES = (
    "short_kind_fit",
    "short_tokens",
    "short_in_question",
    "cited_best_score",
    "cited",
    "model_confirms",
    "passage_confirms",
    "top_passage",
)
FEATURES = (*DECISION_FEATURES, *ANSWER_FEATURES)
# Retrieval's first passages the model is asked about, when its answer cites none of them: the one it most
# says answers the question is the other answer the check weighs. Retrieval's rank 1 is often not the passage
# that answers a question in users' words; the model's yes ranks them better (docs/measurements.md).
PASSAGES_ASKED = 3


def features(
    question: Question,
    short_answer: str,
    cited_scores: Sequence[float],
    decided: dict[str, float],
    confirmation: float,
    passage_confirmation: float,
    top_passage: bool = False,
) -> dict[str, float]:
    """The check's inputs: the answerability model's (`decided`, from the same retrieval) and the answer's
    own: its short answer, the retrieval scores of the passages it cites, the model's `confirmation` of the
    short answer and its `passage_confirmation` of the passages, and whether it is retrieval's top passage
    rather than the model's answer."""
    tokens = [m.group() for m in TOKEN.finditer(short_answer)]
    answer_words = set(content_words(short_answer))
    return decided | {
        "short_kind_fit": kind_score(tokens, question.answer_type),
        "short_tokens": math.log1p(len(tokens)),
        "short_in_question": len(answer_words & set(content_words(question.text))) / max(1, len(answer_words)),
        "cited_best_score": max(cited_scores, default=0.0),
        "cited": float(len(cited_scores)),
        "model_confirms": confirmation,
        "passage_confirms": passage_confirmation,
        "top_passage": float(top_passage),
    }


def answer_inputs(
    chat_model,
    question: Question,
    short_answer: str,
    quotes: Sequence[str],
    cited_scores: Sequence[float],
    decided: dict[str, float],
    top_passage: bool = False,
    passage_confirmation: float | None = None,
) -> dict[str, float]:
    """The check's inputs for one answer, the model asked to confirm it: one function when answering and when
    training, so the check is trained on what it is given. Retrieval's top passage has no short answer of the
    model's: it is confirmed as a passage that answers the question (`passage_confirmation`, when already
    asked by `best_confirmed`)."""
    short_answer = "" if top_passage else short_answer
    if passage_confirmation is None:
        passage_confirmation = confirmed(chat_model, question, "", list(quotes))
    confirmation = confirmed(chat_model, question, short_answer, list(quotes)) if short_answer else passage_confirmation
    return features(question, short_answer, cited_scores, decided, confirmation, passage_confirmation, top_passage)


def best_confirmed(chat_model, question: Question, passages: Sequence[Sequence[str]]) -> tuple[int, float]:
    """Which of `passages` (each the quotes of one) the model most says answers the question, and that
    chance; the first of them on a tie."""
    chances = [confirmed(chat_model, question, "", list(quotes)) for quotes in passages]
    best = max(range(len(chances)), key=lambda i: (chances[i], -i))
    return best, chances[best]


@functools.cache
def load_check() -> LearnedDecision:
    return LearnedDecision(packaged(MODEL_FILE), FEATURES, TRAINER)
