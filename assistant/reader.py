"""Short answers learned from data: which stretch of an evidence sentence answers the question ("Rollo",
"10th century").

Every stretch of up to MAX_TOKENS tokens that neither starts nor ends on a function word or a punctuation mark
is a candidate. A gradient-boosted classifier (scripts/train/train_reader.py: SQuAD 2.0 training articles, their
questions as written and reworded) scores each from what it is (a number, a date, a capitalised name, how
long), what the question asks for (its wh-word and the kind of answer it names) and where it sits (how far from
the words the question shares with the sentence, what comes just before and after it). It replaces hand-ranked
rules that found the answer in the right sentence about half as often as the best stretch would."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

from assistant.question import Question
from assistant.spans import BREAKS, KINDS, TOKEN, is_asked, is_date, is_number, kind_score
from kernel.text import STOPWORDS, WH_WORDS

MODEL_FILE = "reader.joblib"
MAX_TOKENS = 10
BEFORE = (
    "in",
    "at",
    "on",
    "by",
    "from",
    "to",
    "of",
    "for",
    "with",
    "as",
    "than",
    "the",
    "a",
    "an",
    "was",
    "is",
    "are",
    "were",
    "called",
    "named",
    "and",
    "or",
    "between",
    "into",
    "about",
    "over",
    "under",
    "after",
)
AFTER = ("and", "of", "in", "was", "is", "who", "which", "that", "to", "for", "on", "by", "were", "are", "has")
JOINERS = frozenset(
    ["of", "the", "de", "du", "la", "le", "von", "van", "der", "den", "al", "bin", "da", "di", "y", "&"]
)
_CURRENCY = re.compile(r"^[~$£€]")


@dataclass(frozen=True)
class Span:
    text: str
    probability: float  # that this is the answer, by the reader
    kind_fit: float  # how well it fits the kind of answer asked for (assistant/spans.py's scale)


def candidates(question: Question, sentence: str) -> tuple[list[re.Match], list[tuple[int, int]], np.ndarray]:
    """The sentence's tokens, the candidate stretches (first, last token) and their features (one row each)."""
    stems, kind, wh = question.terms, question.answer_type, question.wh
    said = set(question.tokens)
    last_said = question.tokens[-1] if question.tokens else ""
    matches = list(TOKEN.finditer(sentence))
    tokens = [m.group() for m in matches]
    n = len(tokens)
    lower = [t.lower() for t in tokens]
    asked = [is_asked(t, stems) for t in tokens]
    stop = [t in STOPWORDS for t in lower]
    punct = [not re.match(r"[\w~$£€]", t) for t in tokens]
    breaks = [t in BREAKS or t == "." for t in tokens]
    number = [is_number(t) for t in tokens]
    date = [is_date(t) for t in tokens]
    capital = [t[:1].isupper() for t in tokens]
    asked_at = [i for i, a in enumerate(asked) if a]
    # Where the question's first and last words found in the sentence sit: "Who defeated Olaf?" is answered
    # just before "defeated", "Olaf defeated whom?" just after.
    found_in_order = [next((k for k in range(n) if is_asked(tokens[k], [s])), None) for s in stems]
    found_in_order = [k for k in found_in_order if k is not None]
    anchors = (found_in_order[0], found_in_order[-1]) if found_in_order else (None, None)
    # Runs of capitalised words joined by "of", "van", ...: a name is a whole run, not a piece of one.
    run = [0] * n
    for k in range(n):
        joined = k > 0 and lower[k] in JOINERS and capital[k - 1] and k + 1 < n and capital[k + 1]
        if capital[k] or joined:
            run[k] = run[k - 1] if k > 0 and run[k - 1] else k + 1
    kind_row = [float(kind == k) for k in KINDS]
    wh_row = [float(wh == w) for w in WH_WORDS]
    spans, rows = [], []
    for i in range(n):
        if stop[i] or punct[i]:
            continue
        for j in range(i, min(n, i + MAX_TOKENS)):
            if stop[j] or punct[j]:
                continue
            inside = range(i, j + 1)
            length = j - i + 1
            n_asked = sum(asked[k] for k in inside)
            if n_asked == length:
                continue
            left = [i - p for p in asked_at if p < i]
            right = [p - j for p in asked_at if p > j]
            before = lower[i - 1] if i else ""
            after = lower[j + 1] if j + 1 < n else ""
            words = tokens[i : j + 1]
            row = [
                float(length),
                float(any(number[k] for k in inside)),
                float(any(date[k] for k in inside)),
                sum(capital[k] for k in inside) / length,
                float(capital[i]),
                float(i == 0),
                float(j + 1 >= n or (j + 2 == n and punct[j + 1])),
                float(any(tokens[k] == "," for k in inside)),
                float(any(tokens[k] in "()" for k in inside)),
                float(any(t.endswith("%") for t in words)),
                float(any(_CURRENCY.match(t) for t in words)),
                sum(stop[k] for k in inside) / length,
                n_asked / length,
                kind_score(words, kind),
                float(min(left, default=30)),
                float(min(right, default=30)),
                float(len(asked_at)),
                float(sum(1 for p in asked_at if i - 3 <= p <= j + 3 and not i <= p <= j)),
                float(i == 0 or breaks[i - 1]),
                float(j + 1 >= n or breaks[j + 1]),
                float(i > 0 and asked[i - 1]),
                float(j + 1 < n and asked[j + 1]),
                float(i > 0 and capital[i - 1] and not breaks[i - 1]),
                float(j + 1 < n and capital[j + 1]),
                i / max(1, n),
                float(
                    bool(run[i])
                    and run[i] == run[j]
                    and (i == 0 or run[i - 1] != run[i])
                    and (j + 1 >= n or run[j + 1] != run[j])
                ),
                float(bool(run[i]) and ((i > 0 and run[i - 1] == run[i]) or (j + 1 < n and run[j + 1] == run[j]))),
                *[_signed(i, j, a) for a in anchors],
                float(sum(not (stop[k] or capital[k] or number[k] or punct[k]) for k in inside)),
                float(matches[i].start() == 0 or sentence[matches[i].start() - 1] in " \t\n(\"“'‘"),
                float(matches[j].end() == len(sentence) or sentence[matches[j].end()] in " \t\n).,;:!?\"”'’"),
                float(before in said),
                float(after in said),
                float(bool(before) and before == last_said),
                float(any(lower[k] in ("and", "or") for k in inside)),
                float(number[j] and j + 1 < n and lower[j + 1].isalpha() and not stop[j + 1] and not capital[j + 1]),
                *[float(before == w) for w in BEFORE],
                *[float(after == w) for w in AFTER],
                *kind_row,
                *wh_row,
            ]
            spans.append((i, j))
            rows.append(row)
    return matches, spans, np.array(rows, dtype=float) if rows else np.empty((0, 0))


def _signed(first: int, last: int, anchor: int | None) -> float:
    """Tokens from the stretch to `anchor`: negative when the stretch ends before it, positive after."""
    if anchor is None:
        return 30.0
    if last < anchor:
        return float(max(-20, last - anchor))
    if first > anchor:
        return float(min(20, first - anchor))
    return 0.0


@functools.cache
def _feature_count() -> int:
    return candidates(Question.analyse("Who is it?"), "Alpha beta.")[2].shape[1]


class Reader:
    """The trained span classifier (package data), with the provenance of its training."""

    def __init__(self, bundle: dict):
        if bundle.get("max_tokens") != MAX_TOKENS or bundle["model"].n_features_in_ != _feature_count():
            raise ValueError("the reader was trained on other candidates; run scripts/train/train_reader.py")
        self.model = bundle["model"]
        self.provenance = bundle.get("provenance", {})

    def best(self, question: Question, sentence: str) -> Span | None:
        """The most likely answering stretch of `sentence`, or None when it has no candidate."""
        matches, spans, x = candidates(question, sentence)
        if not spans:
            return None
        p = self.model.predict_proba(x)[:, 1]
        k = int(np.argmax(p))
        first, last = spans[k]
        text = sentence[matches[first].start() : matches[last].end()].strip()
        words = [m.group() for m in matches[first : last + 1]]
        return Span(text, float(p[k]), kind_score(words, question.answer_type))


@functools.cache
def load_reader() -> Reader:
    import joblib

    with resources.as_file(resources.files("assistant") / "data" / MODEL_FILE) as path:
        return Reader(joblib.load(path))


@functools.lru_cache(maxsize=1024)
def best_span(question: Question, sentence: str) -> Span | None:
    """The package reader's span, remembered: the refusal decision and the short answer ask for the same one."""
    return load_reader().best(question, sentence)


def short_answer(question: Question, sentence: str) -> str:
    """The reader's answering stretch of `sentence`, or the whole sentence when it has none."""
    span = best_span(question, sentence)
    return span.text if span else sentence.strip()


def confident_short_answer(question: Question, sentence: str) -> str | None:
    """The short answer when it can stand alone: the question asks for a person, place, name, date or number
    and the reader's stretch is of that kind and says less than the whole sentence; None otherwise."""
    if question.answer_type == "any":
        return None
    span = best_span(question, sentence)
    return span.text if span and span.kind_fit >= 1.0 and span.text != sentence.strip() else None
