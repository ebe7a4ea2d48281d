"""Request and response bodies (they make the OpenAPI schema at /docs and /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.answers import Citation, Timings

# The lengths of questions and history are checked with the limits in Settings, as at every other door
# (assistant.assistant.validate_question / validate_history); the body size limit bounds what is parsed.


class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    question: str = Field(examples=["Which critical minerals does Mali hold reserves of?"])
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns of this conversation, oldest first (at most max_history_turns; a user turn "
        "as long as a question at most, an assistant turn max_turn_chars).",
    )


class AnswerResponse(BaseModel):
    """The `brief ask --json` shape."""

    answer: str = Field(description="The answer; each sentence ends with [n] markers naming its citations.")
    refused: bool
    short_answer: str = Field("", description="The answering span of the best cited sentence.")
    confidence: float = Field(
        0.0, description="The probability, from the answerability model, that the documents answer the question."
    )
    citations: list[Citation] = []
    timings: Timings = Timings()
    mode: str = Field(description="'short', 'generated', 'extractive', 'closest' or 'refused'.")


class ErrorDetail(BaseModel):
    message: str
    type: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Document(BaseModel):
    id: str = Field(description="Stable id of the indexed document (use it to delete).")
    source: str
    n_chunks: int
    kind: str


class DocumentList(BaseModel):
    documents: list[Document]


class Status(BaseModel):
    status: str
    detail: str = ""


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions request. Sampling options are accepted and ignored (answers are greedy)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = Field(None, max_length=200)
    messages: list[ChatMessage] = Field(
        min_length=1, description="The earlier user and assistant messages are the history, with its limits."
    )
    stream: bool = False


class ChatChoiceMessage(BaseModel):
    role: str = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: str = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage = Usage()
    citations: list[Citation] = Field([], description="Extra field: the sources behind the [n] markers.")
    refused: bool = Field(False, description="Extra field: the question could not be answered from the documents.")
    mode: str = Field(
        "generated", description="Extra field: 'short', 'generated', 'extractive', 'closest' or 'refused'."
    )
    short_answer: str = Field("", description="Extra field: the answering span of the best cited sentence.")
    confidence: float = Field(0.0, description="Extra field: the probability that the documents answer the question.")
    timings: Timings = Field(Timings(), description="Extra field: the server's retrieval, generation and total time.")


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = "brief"


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]
