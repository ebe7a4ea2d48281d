"""Kinds of answer: what a question asks for (a person, a date, a number, a place, a name, or anything, read from
its wh-word) and whether a stretch of text is of that kind. Pure functions; assistant/reader.py picks the
answering stretch with them, and the refusal decision asks whether the evidence holds the kind asked for."""

from __future__ import annotations

import re

from kernel.text import STOPWORDS, WH_ALIASES, WH_WORDS, stem, stems_match

TOKEN = re.compile(r"(?:[A-Z]\.){2,}|[~$£€]?\w+(?:[-'’.,/–]\w+)*%?|[^\w\s]")  # "U.S." is one token
BREAKS = set(',;:()[]"“”!?') | {"—", "–"}
_MONTHS = set(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
_YEAR = re.compile(r"^\d{3,4}s?$")
_NUMBER = re.compile(r"^\d[\d,.]*(?:st|nd|rd|th|s)?$")
_NUMBER_WORDS = set(
    [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "hundred",
        "thousand",
        "million",
        "billion",
        "half",
        "dozen",
        "several",
    ]
)
KINDS = ("number", "date", "person", "place", "name", "any")  # what answer_type can say
_WH = re.compile(r"\b(" + "|".join([*WH_WORDS, *WH_ALIASES]) + r")\b")
_KINDS = [  # what the question's first wh-word, with the words after it, asks for
    (
        "number",
        re.compile(
            r"(how (many|much|long|old|far|large|big|tall|high|wide|deep|often)|"
            r"what (percent|percentage|number|amount))\b"
        ),
    ),
    ("date", re.compile(r"(when|(what|which) (year|century|date|time|decade|period))\b")),
    ("person", re.compile(r"(who|whom|whose)\b")),
    (
        "place",
        re.compile(
            r"(where|(what|which) (country|city|place|region|river|town|state|continent|island|area|"
            r"location))\b"
        ),
    ),
]
_NAMED = re.compile(r"\b(called|named|name of|the name)\b")


def answer_type(question: str) -> str:
    """The kind of span the question asks for, read from its first wh-word: 'Who led the troops when Cyprus
    was conquered?' asks for a person, not a date."""
    q = question.lower()
    wh = _WH.search(q)
    if wh is None or wh.group() == "why":
        return "any"
    for kind, pattern in _KINDS:
        if pattern.match(q, wh.start()):
            return kind
    if wh.group() in {"what", "which"} and _NAMED.search(q):
        return "name"
    return "any"


def is_number(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token.lower() in _NUMBER_WORDS


def is_date(token: str) -> bool:
    return bool(_YEAR.match(token)) or token.lower() in _MONTHS or token.lower() in {"century", "centuries"}


def kind_score(tokens: list[str], kind: str) -> float:
    """How well a stretch fits the kind of answer asked for: 1 of the kind, 0 not at all, 0.5 for 'any'."""
    capitalised = any(t[:1].isupper() for t in tokens)
    if kind == "number":
        return 1.0 if any(map(is_number, tokens)) else 0.0
    if kind == "date":
        return 1.0 if any(map(is_date, tokens)) else (0.4 if any(map(is_number, tokens)) else 0.0)
    if kind in {"person", "place", "name"}:
        return 1.0 if capitalised else 0.0
    return 0.5


def is_asked(token: str, question_stems: list[str]) -> bool:
    """Does the question say this token (or a part of it: 'half-brother', "Robert's")?"""
    parts = [p for p in re.findall(r"\w+", token.lower()) if p not in STOPWORDS and (len(p) > 2 or p.isdigit())]
    return any(stems_match(stem(p), q) for p in parts for q in question_stems)


def missing_kind(kind: str, sentences: list[str]) -> str | None:
    """'date' or 'number' when the question asks for one (`kind`, from answer_type: 'When ...?', 'How many
    ...?') and none of the sentences holds one: they may share the question's words, but they do not answer
    it."""
    if kind not in {"date", "number"}:
        return None
    has_kind = is_number if kind == "number" else is_date
    found = any(has_kind(m.group()) for sentence in sentences for m in TOKEN.finditer(sentence))
    return None if found else kind
