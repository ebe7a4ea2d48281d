"""GET /healthz (the process is up) and GET /readyz (the index and the model are loaded); HEAD answers as GET
(without the body), as load balancers and uptime checks may ask."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Request

from shells.api.errors import ApiError, without_paths
from shells.api.schemas import ErrorResponse, Status
from shells.api.state import RETRY_AFTER_S, get_state

router = APIRouter(tags=["health"])


@router.api_route(
    "/healthz", methods=["GET", "HEAD"], response_model=Status, summary="Liveness: the server process answers"
)
async def healthz() -> dict:
    return {"status": "ok", "detail": ""}


@router.api_route(
    "/readyz",
    methods=["GET", "HEAD"],
    response_model=Status,
    summary="Readiness: 200 once the index and the model are loaded, 503 before",
    responses={503: {"model": ErrorResponse}},
)
async def readyz(request: Request) -> dict:
    state = get_state(request)
    state.require_ready()
    try:
        count = await anyio.to_thread.run_sync(state.assistant.documents.sentence_count)
    except Exception as exc:
        logging.getLogger("brief.api").warning("readiness: the index cannot be read", exc_info=exc)
        raise ApiError(
            503,
            f"not ready: the index cannot be read: {without_paths(str(exc))}",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from exc
    if count == 0:
        raise ApiError(503, "not ready: nothing is indexed", headers={"Retry-After": str(RETRY_AFTER_S)})
    return {"status": "ready", "detail": f"{count} sentences indexed"}
