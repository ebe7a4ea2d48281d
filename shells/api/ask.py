"""POST /api/ask and POST /api/ask/stream (server-sent events)."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from assistant.assistant import QuestionError, validate_history, validate_question
from assistant.pipeline import Final, Token
from shells.api.errors import ApiError, error_body, without_paths
from shells.api.schemas import AnswerResponse, AskRequest
from shells.api.state import RETRY_AFTER_S, get_state

router = APIRouter(prefix="/api", tags=["ask"])
log = logging.getLogger("brief.api")


def checked_question(state, question: str) -> str:
    try:
        return validate_question(question, state.settings)
    except QuestionError as exc:
        raise ApiError(400, str(exc)) from exc


def checked_history(state, history: list[dict]) -> list[dict]:
    """The history within the limits every door applies (`validate_history`), else 400 with its message."""
    try:
        return [t.model_dump() for t in validate_history(history, state.settings)]
    except QuestionError as exc:
        raise ApiError(400, str(exc)) from exc


def model_failure(exc: Exception) -> ApiError:
    """A model or store that cannot be reached is the server's condition, not a bug: 503 with the reason."""
    from assistant.llm import ModelError
    from index.store import StoreError

    if isinstance(exc, ModelError | StoreError):
        log.warning("answering failed: %s", exc)  # the whole message, server paths included, stays here
        return ApiError(503, without_paths(str(exc)), headers={"Retry-After": str(RETRY_AFTER_S)})
    return None


async def answer_of(state, question: str, history: list[dict]):
    """The Assistant's answer, computed in a worker thread; a model or store failure becomes a 503."""
    try:
        return await state.run(state.assistant.ask, question, history)
    except Exception as exc:
        if (mapped := model_failure(exc)) is not None:
            raise mapped from exc
        raise


def stream_failure(exc: Exception) -> dict:
    """The error body to send when a stream fails after its 200 status went out (503 for a model or store
    that cannot be reached; anything else is logged and reported as a 500 without details)."""
    mapped = model_failure(exc)
    if mapped is None:
        log.error("streamed answer failed", exc_info=exc)
        return error_body(500, "internal server error; see the server log")
    return error_body(mapped.status_code, mapped.detail)


@router.post("/ask", response_model=AnswerResponse, summary="Ask a question; the answer cites its sources")
async def ask(body: AskRequest, request: Request) -> dict:
    state = get_state(request)
    question = checked_question(state, body.question)
    history = checked_history(state, [t.model_dump() for t in body.history])
    return (await answer_of(state, question, history)).to_public()


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/ask/stream",
    summary="Ask a question; stream the answer as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "description": "One server-sent event.",
                        "properties": {
                            "event": {"type": "string", "enum": ["token", "answer", "error"]},
                            "data": {"type": "string", "description": "JSON"},
                        },
                        "required": ["event", "data"],
                    }
                }
            },
            "description": '`event: token` events ({"text": ...}) while the model writes, then one '
            "`event: answer` with the full answer JSON (as POST /api/ask returns; its text is authoritative "
            'and may differ from the streamed tokens), or one `event: error` ({"error": {...}}).',
        }
    },
)
async def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
    state = get_state(request)
    question = checked_question(state, body.question)
    history = checked_history(state, [t.model_dump() for t in body.history])
    items = state.start_stream(lambda: state.assistant.ask_stream(question, history))

    async def events():
        try:
            async for event in items:
                match event:
                    case Token(text):
                        yield sse("token", {"text": text})
                    case Final(answer):
                        yield sse("answer", answer.to_public())
        except Exception as exc:
            yield sse("error", stream_failure(exc))

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
