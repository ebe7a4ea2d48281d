"""Plain typed data passed between the assistant and its shells (CLI, web, API): what an answer is made of."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kernel.types import Chunk


class Evidence(BaseModel):
    """A retrieved chunk with its scores."""

    chunk: Chunk
    quote: str = Field(description="The verbatim source text at [start, end).")
    score: float = Field(description="Dense cosine similarity to the question.")
    fused: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None


class Citation(BaseModel):
    marker: int
    source: str
    section: str
    quote: str
    start: int
    end: int
    score: float
    supported: bool = True


class Timings(BaseModel):
    retrieve_s: float = 0.0
    generate_s: float = 0.0
    total_s: float = 0.0


class Turn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str


class Answer(BaseModel):
    answer: str
    refused: bool
    short_answer: str = Field(
        "",
        description="The short answer: the quality reader's own when the passage quoted first supports it, else "
        "the learned reader's answering span of that passage ('' if refused).",
    )
    citations: list[Citation] = []
    timings: Timings = Timings()
    confidence: float = Field(
        0.0, description="The answerability model's probability that the documents answer the question."
    )
    mode: str = Field(
        "generated",
        description="'short' (the answering span, quoted), 'generated' (the model's text), 'extractive' (the "
        "model's text failed the checks: the evidence quoted whole), 'closest' (not answered: the closest passages "
        "quoted) or 'refused'.",
    )
    retrieved: list[Evidence] = Field([], description="Everything retrieved, best first, for the sources panel.")
    tokens_generated: int = 0

    def to_public(self) -> dict:
        """The `brief ask --json` shape."""
        return self.model_dump(
            include={"answer", "refused", "short_answer", "confidence", "citations", "timings", "mode"}
        )
