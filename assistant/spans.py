"""Short answers: the span of an evidence sentence that answers the question ("Rollo", "10th century").

A pure, typed heuristic: the question word says what kind of span is wanted (a person, a date, a number, a
place, a name, or anything); the candidates are the stretches of the sentence that the question does not
already say, and the one of the right kind nearest to the words the question shares with the sentence wins."""

from __future__ import annotations

import re

from assistant.text import STOPWORDS, stem, stems_match

_TOKEN = re.compile(r"(?:[A-Z]\.){2,}|[~$£€]?\w+(?:[-'’.,/–]\w+)*%?|[^\w\s]")  # "U.S." is one token
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
KIND_WEIGHT = 10.0  # the wanted kind of span comes first; nearness to the question's words breaks ties


_WH = re.compile(r"\b(who|whom|whose|when|where|what|which|how)\b")
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
    if wh is None:
        return "any"
    for kind, pattern in _KINDS:
        if pattern.match(q, wh.start()):
            return kind
    if wh.group() in {"what", "which"} and _NAMED.search(q):
        return "name"
    return "any"


def _is_number(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token.lower() in _NUMBER_WORDS


def _is_date(token: str) -> bool:
    return bool(_YEAR.match(token)) or token.lower() in _MONTHS or token.lower() in {"century", "centuries"}


def _kind_score(tokens: list[str], kind: str) -> float:
    capitalised = any(t[:1].isupper() for t in tokens)
    if kind == "number":
        return 1.0 if any(map(_is_number, tokens)) else 0.0
    if kind == "date":
        return 1.0 if any(map(_is_date, tokens)) else (0.4 if any(map(_is_number, tokens)) else 0.0)
    if kind in {"person", "place", "name"}:
        return 1.0 if capitalised else 0.0
    return 0.5


def _trim(tokens: list[str], kind: str) -> list[tuple[int, int]]:
    """(offset, length) of the useful parts: function words dropped at the edges; for a number, the number and
    the words that count it; for a name, each capitalised stretch ('Jean's nephew Maciot de Bethencourt' holds
    two)."""
    lo, hi = 0, len(tokens)
    while lo < hi and tokens[lo].lower() in STOPWORDS:
        lo += 1
    while hi > lo and tokens[hi - 1].lower() in STOPWORDS:
        hi -= 1
    if kind == "number":
        for i in range(lo, hi):
            if _NUMBER.match(tokens[i]) or tokens[i].lower() in _NUMBER_WORDS:
                return [(i, min(3, hi - i))]
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
                return [(i, end - i)]
    if kind in {"person", "place", "name"}:
        runs, i = [], lo
        while i < hi:
            if not tokens[i][:1].isupper():
                i += 1
                continue
            end = i + 1  # a run of capitalised words, joined by "of", "the", "de", ...
            while end < hi and (
                tokens[end][:1].isupper()
                or (tokens[end].lower() in _NAME_JOINERS and end + 1 < hi and tokens[end + 1][:1].isupper())
            ):
                end += 1
            runs.append((i, end - i))
            i = end
        if runs:
            return runs
    return [(lo, min(8, hi - lo))]


_LOCATIVE = {"in", "at", "to", "from", "near", "into", "across", "through", "towards", "toward", "of", "on", "off"}


def _after_locative(tokens: list[str], first: int) -> bool:
    """Is the span introduced by a preposition of place ('in the city of Deabolis', 'to southern Italy')?"""
    before = [t.lower() for t in tokens[max(0, first - 3) : first]]
    return any(t in _LOCATIVE for t in before)


def _names_the_asked(tokens: list[str], asked: list[bool], first: int, last: int) -> bool:
    """A capitalised span running straight into a capitalised word of the question ('King' in 'King Harold II'
    when Harold is asked about) is part of the question's own name, not an answer."""
    if not all(t[:1].isupper() for t in tokens[first : last + 1]):
        return False
    touching = [i for i in (first - 1, last + 1) if 0 <= i < len(tokens)]
    return any(asked[i] and tokens[i][:1].isupper() for i in touching)


def _is_asked(token: str, question_stems: list[str]) -> bool:
    """Does the question say this token (or a part of it: 'half-brother', "Robert's")?"""
    parts = [p for p in re.findall(r"\w+", token.lower()) if p not in STOPWORDS and (len(p) > 2 or p.isdigit())]
    return any(stems_match(stem(p), q) for p in parts for q in question_stems)


def missing_kind(question: str, sentences: list[str]) -> str | None:
    """'date' or 'number' when the question asks for one ('When ...?', 'How many ...?') and none of the
    sentences holds one: they may share the question's words, but they do not answer it."""
    kind = answer_type(question)
    if kind not in {"date", "number"}:
        return None
    has_kind = _is_number if kind == "number" else _is_date
    found = any(has_kind(m.group()) for sentence in sentences for m in _TOKEN.finditer(sentence))
    return None if found else kind


def short_answer(question: str, sentence: str) -> str:
    """The best answering span of `sentence`, or the whole sentence when nothing better stands out."""
    return best_span(question, sentence)[0]


def confident_short_answer(question: str, sentence: str) -> str | None:
    """The short answer when it can stand alone: the question asks for a person, place, name, date or number
    and the sentence holds a span of that kind the question does not already say; None otherwise."""
    if answer_type(question) == "any":
        return None
    span, fit = best_span(question, sentence)
    return span if fit >= 1.0 and span != sentence.strip() else None


def best_span(question: str, sentence: str) -> tuple[str, float]:
    """The best answering span of `sentence` and how well it fits the kind of answer asked for (0: not at all,
    1: a span of the wanted kind; 0.5 when any kind will do). The whole sentence, fit 0, when no stretch of
    it says more than the question."""
    question_stems = [stem(w.lower()) for w in re.findall(r"\w+", question) if w.lower() not in STOPWORDS]
    matches = list(_TOKEN.finditer(sentence))
    tokens = [m.group() for m in matches]
    asked = [_is_asked(t, question_stems) for t in tokens]
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
    best, best_score, best_fit = None, float("-inf"), 0.0
    candidates = [(s + offset, length) for s, e in segments for offset, length in _trim(tokens[s:e], kind)]
    for start, length in candidates:
        first, last = start, start + length - 1
        span = tokens[first : last + 1]
        if not span or all(t.lower() in STOPWORDS for t in span):
            continue
        distance = min((min(abs(p - first), abs(p - last)) for p in asked_positions), default=10)
        if first == 0 and kind in {"person", "place", "name"} and length == 1:
            distance += 1  # every sentence starts with a capital
        if _names_the_asked(tokens, asked, first, last):
            continue
        fit = _kind_score(span, kind)
        if kind == "place" and not _after_locative(tokens, first):
            fit *= 0.7
        score = KIND_WEIGHT * fit - 0.15 * distance - 0.02 * length
        if score > best_score:
            best, best_score, best_fit = (first, last), score, fit
    if best is None:
        return sentence.strip(), 0.0
    return sentence[matches[best[0]].start() : matches[best[1]].end()].strip(), best_fit
