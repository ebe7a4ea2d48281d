"""The quality profile's reader: a larger local model reads the retrieved passages and says which of them answer
the question, with a short answer, or that they do not say (NOT STATED). Its reply is held to JSON by a schema
(llama.cpp's grammar), checked against the passages it was shown, and only ever used through the grounding
checks: a cited number must exist, and the short answer must be supported by what it cites.

The passages are put in the system prompt in document order, so that for a small collection (the brief) every
question shares one prompt prefix and llama.cpp's prompt cache reads the document once."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from assistant.answers import Evidence
from assistant.grounding import support_score
from assistant.prompts import render
from assistant.question import Question

NOT_STATED = "NOT STATED"
MAX_CITED = 3
REPLY_TOKENS = 64


@dataclass(frozen=True)
class Reading:
    """What the model read: the passages (0-based, into those it was shown) that answer the question and its
    short answer; `stated` is False when it said the passages do not answer it (or its reply was unusable)."""

    stated: bool
    cited: tuple[int, ...] = ()
    answer: str = ""


def in_reading_order(passages: list[Evidence]) -> list[Evidence]:
    """Document order, the same for every question over the same documents: the prompt's prefix is shared."""
    return sorted(passages, key=lambda e: (e.chunk.source, e.chunk.start))


def reply_schema(n: int) -> dict:
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "reading",
            "schema": {
                "type": "object",
                # The answer first: deciding "NOT STATED" before choosing passages refused absent facts
                # better in the side-by-side probe than citing first (which talks the model into an answer).
                "properties": {
                    "answer": {"type": "string", "maxLength": 200},
                    "sentences": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": 1, "maximum": n},
                        "maxItems": MAX_CITED,
                    },
                },
                "required": ["answer", "sentences"],
            },
        },
    }


def messages(question: Question, passages: list[Evidence]):
    from langchain_core.messages import HumanMessage, SystemMessage

    numbered = "\n".join(f"[{i}] {' '.join(e.chunk.text.split())}" for i, e in enumerate(passages, start=1))
    earlier = ""
    if question.follow_up:
        asked = " / ".join(question.earlier[-2:])
        if question.earlier_answer:
            earlier = render("read_follow_up_answered", earlier=asked, answer=question.earlier_answer) + "\n"
        else:
            earlier = render("read_follow_up", earlier=asked) + "\n"
    return [
        SystemMessage(render("read", n=str(len(passages)), passages=numbered)),
        HumanMessage(render("read_question", earlier=earlier, question=question.text)),
    ]


def parse(reply: str, n: int) -> Reading:
    """The reply as a Reading; anything malformed, empty or citing no passage it was shown reads as not stated."""
    try:
        data = json.loads(reply)
        answer = " ".join(str(data.get("answer", "")).split())
        numbers = [int(x) for x in data.get("sentences", [])]
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return Reading(False)
    cited = tuple(dict.fromkeys(k - 1 for k in numbers if 1 <= k <= n))[:MAX_CITED]
    if not answer or NOT_STATED in answer.upper() or not cited:
        return Reading(False)
    return Reading(True, cited, answer.rstrip("."))


def cited_by_support(reading: Reading, passages: list[str]) -> tuple[int, ...]:
    """The passages the short answer rests on. The 1.5B model often names the right answer and the wrong
    passage ("Russia and China", citing [13] for what [14] says): when no passage it cites holds all of its
    answer's words (`support_score`) and some other passage does, those are cited, the nearest to the numbers
    it gave. Otherwise what it cited stands: its short answer is as often the wrong part of the right passage."""
    scores = [support_score(reading.answer, [p]) for p in passages]
    if any(scores[i] == 1.0 for i in reading.cited) or 1.0 not in scores:
        return reading.cited
    distance = {i: min(abs(i - c) for c in reading.cited) for i, score in enumerate(scores) if score == 1.0}
    nearest = min(distance.values())
    return tuple(i for i in sorted(distance) if distance[i] == nearest)[:MAX_CITED]


def read(chat_model, question: Question, passages: list[Evidence]) -> Reading:
    """Ask the model; `passages` must be in reading order (`in_reading_order`)."""
    if not passages:
        return Reading(False)
    reply = chat_model.invoke(
        messages(question, passages), max_tokens=REPLY_TOKENS, response_format=reply_schema(len(passages))
    )
    return parse(reply.content if isinstance(reply.content, str) else "", len(passages))


def confirmed(chat_model, question: Question, short_answer: str, quotes: list[str]) -> float:
    """The chance the model gives that the quoted passages state `short_answer` to the question (or, with
    no short answer, answer it): its probability of "yes" against "no" as the first word of a new, short
    prompt that shows only what the answer cites. Asked apart from the reading, the model rejects many answers
    the reading talked itself into (docs/measurements.md, "The model asked to confirm"). From the reply's text,
    1 or 0, when the model reports no probabilities."""
    from langchain_core.messages import HumanMessage, SystemMessage

    earlier = render("confirm_earlier", earlier=question.earlier[-1]) + "\n" if question.earlier else ""
    values = {"quotes": " ".join(quotes), "earlier": earlier, "question": question.text}
    ask = render("confirm", answer=short_answer, **values) if short_answer else render("confirm_passage", **values)
    reply = chat_model.invoke(
        [SystemMessage(render("confirm_system")), HumanMessage(ask)], max_tokens=1, logprobs=True, top_logprobs=10
    )
    mass = {"yes": 0.0, "no": 0.0}
    first = ((reply.response_metadata.get("logprobs") or {}).get("content") or [{}])[0]
    for candidate in first.get("top_logprobs", []):
        word = candidate.get("token", "").strip().lower()
        if word in mass:
            mass[word] += math.exp(candidate.get("logprob", -math.inf))
    if not any(mass.values()):
        text = reply.content.strip().lower() if isinstance(reply.content, str) else ""
        return 1.0 if text.startswith("yes") else 0.0
    return mass["yes"] / (mass["yes"] + mass["no"])
