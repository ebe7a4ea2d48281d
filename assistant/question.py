"""A question, analysed once: its words, stems, the kind of answer it asks for, its names and numbers, and
what the conversation makes of it. Built once per ask (`Question.analyse`) and read by retrieval, the
decision, the reader and the grounding checks, so that no stage tokenises or classifies it again."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from assistant.answers import Turn
from assistant.conversation import is_follow_up, referent
from assistant.grounding import strip_markers
from assistant.spans import answer_type
from kernel.text import STOPWORDS, content_words, expand_shorthand, first_wh, words

EARLIER_ANSWER_CHARS = 300
NEGATIONS = frozenset(["not", "no", "never", "none", "nor", "without", "n't", "cannot", "neither"])
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
# A request for the gist of a document ("summarize it", "tl;dr", "what is this about") ...
_OVERVIEW = re.compile(
    r"\b(summar\w*|sum\s+(it\s+)?up|tl\s*;?\s*dr|gist|overview|nutshell|main\s+(point|idea)s?|key\s+points?"
    r"|what('?s|\s+is)\s+(this|it|the)(\s+\w+)?\s+about)\b"
)
# ... and the words that may come with it without asking for one part of the document ("summarize the brief in
# one line please"): with any other content word ("sum up what happens next") it asks about that part.
_OVERVIEW_WORDS = frozenset(
    [
        "summarize",
        "summarise",
        "summary",
        "sum",
        "up",
        "tl",
        "dr",
        "tldr",
        "gist",
        "overview",
        "nutshell",
        "main",
        "point",
        "points",
        "idea",
        "key",
        "whats",
        "brief",
        "document",
        "article",
        "text",
        "story",
        "report",
        "page",
        "file",
        "piece",
        "one",
        "line",
        "sentence",
        "short",
        "quick",
        "quickly",
        "pls",
        "please",
        "give",
        "tell",
        "me",
        "briefly",
        "basically",
    ]
)


def proper_names(text: str) -> list[str]:
    """Capitalised words after the first that are not function words: the names a text is about."""
    found = [m.group() for m in _CAPITALISED.finditer(text)]
    first = text.split()[0] if text.split() else ""
    return [w for w in found if w != first and w.lower() not in STOPWORDS]


def negated(text: str) -> bool:
    return bool(set(words(text)) & NEGATIONS) or "n't" in text.lower()


@dataclass(frozen=True)
class Question:
    """What every stage reads of a question. `about` is what the conversation is about when the question
    leans on it (a follow-up), else ''; `resolved` is the question it then stands for."""

    text: str
    turns: tuple[Turn, ...] = field(default=(), compare=False)  # equal questions: same text, same referent
    about: str = ""
    tokens: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def analyse(cls, text: str, turns: Sequence[Turn] = ()) -> Question:
        """The question as typed, its chat shorthand and that of the earlier questions written out ("whats",
        "ppl", "yr"), so that every stage reads the words the documents use."""
        text = expand_shorthand(text)
        turns = tuple(
            t.model_copy(update={"content": expand_shorthand(t.content)}) if t.role == "user" else t for t in turns
        )
        about = referent(list(turns)) if is_follow_up(text) else ""
        return cls(text=text, turns=turns, about=about, tokens=tuple(words(text)))

    @property
    def follow_up(self) -> bool:
        return bool(self.about)

    @property
    def resolved(self) -> str:
        return f"{self.about} {self.text}" if self.about else self.text

    @property
    def queries(self) -> list[str]:
        """What is searched: the question alone and, for a follow-up, with what the conversation is about,
        so that what 'them' refers to can be found."""
        return [self.text, self.resolved] if self.about else [self.text]

    @cached_property
    def words(self) -> dict[str, str]:
        """Content words of the question by stem, hyphenated words whole: what evidence should cover."""
        return content_words(self.text, split_hyphens=False)

    @cached_property
    def resolved_words(self) -> dict[str, str]:
        """The same of the question a follow-up stands for."""
        return content_words(self.resolved, split_hyphens=False) if self.about else self.words

    @cached_property
    def terms(self) -> list[str]:
        """Stems of the question's own content words, hyphenated words also split: what a quote must hold."""
        return list(content_words(self.text))

    @cached_property
    def context_words(self) -> dict[str, str]:
        """Content words of the earlier questions a follow-up leans on."""
        return content_words(referent(list(self.turns))) if self.turns else {}

    @cached_property
    def earlier(self) -> list[str]:
        """The earlier user turns, oldest first."""
        return [t.content for t in self.turns if t.role == "user"]

    @cached_property
    def earlier_answer(self) -> str:
        """What the assistant said last, when the conversation ends with its turn: a follow-up's 'it' is often
        what that answer named ('what is it called now' after an answer naming BankAmericard). Citation
        markers dropped, cut to EARLIER_ANSWER_CHARS on a word boundary."""
        if not self.turns or self.turns[-1].role != "assistant":
            return ""
        text = strip_markers(" ".join(self.turns[-1].content.split()))
        if len(text) <= EARLIER_ANSWER_CHARS:
            return text
        return text[:EARLIER_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"

    @cached_property
    def answer_type(self) -> str:
        """The kind of answer asked for (assistant/spans.py): number, date, person, place, name or any."""
        return answer_type(self.text)

    @cached_property
    def wh(self) -> str:
        return first_wh(list(self.tokens))

    @cached_property
    def names(self) -> list[str]:
        return proper_names(self.resolved)

    @cached_property
    def numbers(self) -> list[str]:
        return _NUMBER.findall(self.resolved)

    @cached_property
    def asks_overview(self) -> bool:
        """The question asks what a document says as a whole: no sentence matches it by its words or meaning,
        and the answer is the document's opening sentence, where a brief (or most articles) says what it is
        about."""
        text = self.text.lower()
        return bool(_OVERVIEW.search(text)) and all(
            w in _OVERVIEW_WORDS or w in STOPWORDS for w in words(text.replace(";", " "))
        )

    @cached_property
    def negated(self) -> bool:
        return negated(self.text)
