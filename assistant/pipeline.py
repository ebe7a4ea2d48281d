"""The seam every answering pipeline implements, and the events its stream yields.

`Assistant` implements it in process; the naive baseline (`workbench.naive`) and the clients of a
running `brief serve` (`assistant.remote`) implement it too, so the workbench and the shells can take
any of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from assistant.answers import Answer, Evidence, Turn


@dataclass(frozen=True)
class Token:
    """A piece of the model's text, as it is written (the final answer may replace it)."""

    text: str


@dataclass(frozen=True)
class Final:
    """The authoritative answer, always the last event of a stream."""

    answer: Answer


StreamEvent = Token | Final


@runtime_checkable
class Pipeline(Protocol):
    def ask(self, question: str, history: Sequence[Turn | dict] | None = None) -> Answer:
        """The answer to a question, given the earlier turns of the conversation."""

    def ask_stream(self, question: str, history: Sequence[Turn | dict] | None = None) -> Iterator[StreamEvent]:
        """`Token`s while the answer is written, then one `Final`."""

    def rank(self, question: str, history: Sequence[Turn | dict] | None = None, k: int = 10) -> list[Evidence]:
        """The retrieval ranking an answer is built from, `k` deep."""
