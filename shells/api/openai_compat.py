"""OpenAI-compatible POST /v1/chat/completions (streamed and not) and GET /v1/models.

The last message must be the user's question; earlier user/assistant messages are the history (system
messages are ignored: the assistant has its own instructions). The content carries [n] markers and the
response carries their sources in the extra `citations` field, with `refused`, `mode`, `short_answer`, `confidence` and `timings`
as `brief ask --json` has them (in the last chunk when streaming)."""

from __future__ import annotations

import json
import re
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from assistant.pipeline import Final
from shells.api.ask import answer_of, checked_history, checked_question, stream_failure
from shells.api.errors import ApiError
from shells.api.schemas import ChatCompletion, ChatCompletionRequest, ErrorResponse, ModelList
from shells.api.state import get_state

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

MODEL_ID = "brief"


def text_of(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if part.type in {"text", "input_text"})


def split_messages(body: ChatCompletionRequest) -> tuple[str, list[dict]]:
    messages = [m for m in body.messages if m.role in {"user", "assistant"}]
    if not messages or messages[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question (role 'user')")
    history = [{"role": m.role, "content": text_of(m.content)} for m in messages[:-1]]
    return text_of(messages[-1].content), history


@router.get("/models", response_model=ModelList, summary="The one model this server offers")
async def models() -> dict:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "brief"}]}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI-compatible chat completion with citations",
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "description": "One server-sent event: a JSON chat.completion.chunk, or [DONE].",
                        "properties": {"data": {"type": "string"}},
                        "required": ["data"],
                    }
                }
            },
            "description": "With stream=true: OpenAI chat.completion.chunk events, ending with data: [DONE].",
        },
        400: {"model": ErrorResponse},
    },
)
async def chat_completions(body: ChatCompletionRequest, request: Request):
    state = get_state(request)
    question, history = split_messages(body)
    question = checked_question(state, question)
    history = checked_history(state, history)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = body.model or MODEL_ID
    if body.stream:
        return StreamingResponse(
            _stream(state, question, history, completion_id, created, model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await answer_of(state, question, history)
    public = answer.to_public()
    completion_tokens = answer.tokens_generated
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": public["answer"]}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": completion_tokens, "total_tokens": completion_tokens},
        "citations": public["citations"],
        "refused": public["refused"],
        "mode": public["mode"],
        "short_answer": public["short_answer"],
        "confidence": public["confidence"],
        "timings": public["timings"],
    }


def _chunk(completion_id, created, model, delta: dict, finish_reason=None, **extra) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _pieces(text: str) -> list[str]:
    """The answer in word-sized deltas (whitespace kept, so the deltas join back to the exact text)."""
    return re.findall(r"\S+\s*|\s+", text)


def _stream(state, question, history, completion_id, created, model):
    """The role first; then the content. The content is the authoritative answer (verified and with its
    markers renumbered to match `citations`), so it is sent once the answer is complete, never the raw
    model tokens that the verification may replace."""
    items = state.start_stream(lambda: state.assistant.ask_stream(question, history))

    async def events():
        yield _chunk(completion_id, created, model, {"role": "assistant", "content": ""})
        try:
            async for event in items:
                if not isinstance(event, Final):
                    continue
                public = event.answer.to_public()
                for piece in _pieces(public["answer"]):
                    yield _chunk(completion_id, created, model, {"content": piece})
                yield _chunk(
                    completion_id,
                    created,
                    model,
                    {},
                    "stop",
                    citations=public["citations"],
                    refused=public["refused"],
                    mode=public["mode"],
                    short_answer=public["short_answer"],
                    confidence=public["confidence"],
                    timings=public["timings"],
                )
        except Exception as exc:
            yield f"data: {json.dumps(stream_failure(exc))}\n\n"
        yield "data: [DONE]\n\n"

    return events()
