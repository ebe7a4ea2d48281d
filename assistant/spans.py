"""Short answers: the span of an evidence sentence that answers the question ("Rollo", "10th century").

A pure, typed heuristic: the question word says what kind of span is wanted (a person, a date, a number, a
place, or anything); the candidates are the stretches of the sentence that the question does not already say,
and the one of the right kind nearest to the words the question shares with the sentence wins."""

from __future__ import annotations

import re

from assistant.text import STOPWORDS, stem, stems_match

_TOKEN = re.compile(r"[~$£€]?\w+(?:[-'’.,/–]\w+)*%?|[^\w\s]")
_BREAKS = set(',;:()[]"“”!?') | {"—", "–"}
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
_NAME_JOINERS = {"of", "the", "de", "du", "la", "le", "von", "van", "der", "den", "al", "bin", "da", "di", "y", "&"}
_EDGE_WORDS = STOPWORDS | {"and", "or", "but", "which", "who", "that", "was", "were", "is", "are"}


def answer_type(question: str) -> str:
    q = question.lower()
    if re.search(
        r"\b(how (many|much|long|old|far|large|big|tall|high|wide|deep|often)|what (percent|percentage|number|amount))\b",
        q,
    ):
        return "number"
    if re.search(
        r"\b(when|what year|which year|what century|which century|what date|what time|what decade|what period)\b", q
    ):
        return "date"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "person"
    if re.search(
        r"\bwhere\b|\b(what|which) (country|city|place|region|river|town|state|continent|island|area|location)\b", q
    ):
        return "place"
    return "any"


def _kind_score(tokens: list[str], kind: str) -> float:
    capitalised = sum(t[:1].isupper() for t in tokens)
    numbers = sum(bool(_NUMBER.match(t)) or t.lower() in _NUMBER_WORDS for t in tokens)
    dates = sum(bool(_YEAR.match(t)) or t.lower() in _MONTHS or t.lower() in {"century", "centuries"} for t in tokens)
    if kind == "number":
        return 1.0 if numbers else 0.0
    if kind == "date":
        return 1.0 if dates else (0.4 if numbers else 0.0)
    if kind in {"person", "place"}:
        return 1.0 if capitalised else 0.0
    return 0.5


def _trim(tokens: list[str], kind: str) -> tuple[int, int]:
    """(offset, length) of the useful part: function words dropped at the edges; for a number, the number and
    the words that count it; for a person or place, the capitalised stretch."""
    lo, hi = 0, len(tokens)
    while lo < hi and tokens[lo].lower() in _EDGE_WORDS:
        lo += 1
    while hi > lo and tokens[hi - 1].lower() in _EDGE_WORDS:
        hi -= 1
    if kind == "number":
        for i in range(lo, hi):
            if _NUMBER.match(tokens[i]) or tokens[i].lower() in _NUMBER_WORDS:
                return i, min(3, hi - i)
    if kind == "date":
        for i in range(lo, hi):
            t = tokens[i].lower()
            if _YEAR.match(t) or t in _MONTHS or _NUMBER.match(t):
                end = i + 1
                while (
                    end < hi
                    and end - i < 3
                    and (
                        tokens[end].lower() in {"century", "centuries", "bc", "ad", "bce", "ce"}
                        or _NUMBER.match(tokens[end])
                        or tokens[end].lower() in _MONTHS
                    )
                ):
                    end += 1
                return i, end - i
    if kind in {"person", "place"}:
        caps = [i for i in range(lo, hi) if tokens[i][:1].isupper()]
        if caps:
            end = caps[0] + 1  # the first run of capitalised words, joined by "of", "the", "de", ...
            while end < hi and (
                tokens[end][:1].isupper()
                or (tokens[end].lower() in _NAME_JOINERS and end + 1 < hi and tokens[end + 1][:1].isupper())
            ):
                end += 1
            return caps[0], end - caps[0]
    return lo, min(8, hi - lo)


def short_answer(question: str, sentence: str) -> str:
    """The best answering span of `sentence`, or the whole sentence when nothing better stands out."""
    question_stems = [stem(w.lower()) for w in re.findall(r"\w+", question) if w.lower() not in STOPWORDS]
    matches = list(_TOKEN.finditer(sentence))
    tokens = [m.group() for m in matches]
    asked = [
        t.lower() not in STOPWORDS and any(stems_match(stem(t.lower()), q) for q in question_stems) for t in tokens
    ]
    kind = answer_type(question)
    segments: list[tuple[int, int]] = []
    start = None
    for i, token in enumerate(tokens + ["."]):
        boundary = i == len(tokens) or asked[i] or token in _BREAKS or token == "."
        if boundary:
            if start is not None:
                segments.append((start, i))
            start = None
        elif start is None:
            start = i
    asked_positions = [i for i, a in enumerate(asked) if a]
    best, best_score = None, float("-inf")
    for s, e in segments:
        offset, length = _trim(tokens[s:e], kind)
        first, last = s + offset, s + offset + length - 1
        span = tokens[first : last + 1]
        if not span or all(t.lower() in STOPWORDS for t in span):
            continue
        distance = min((min(abs(p - first), abs(p - last)) for p in asked_positions), default=10)
        if first == 0 and kind in {"person", "place"} and length == 1:
            distance += 1  # every sentence starts with a capital
        score = 2.0 * _kind_score(span, kind) - 0.15 * distance - 0.02 * length
        if score > best_score:
            best, best_score = (first, last), score
    if best is None:
        return sentence.strip()
    return sentence[matches[best[0]].start() : matches[best[1]].end()].strip()
