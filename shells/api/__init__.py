"""The HTTP API: `create_api(assistant, settings, api_key, password=...)` returns a FastAPI app with

- POST /api/ask, POST /api/ask/stream (server-sent events)
- GET/POST /api/documents, DELETE /api/documents/{id}
- POST /v1/chat/completions, GET /v1/models (OpenAI-compatible)
- GET /healthz, GET /readyz; OpenAPI docs at /docs

Errors are JSON {"error": {"message", "type"}}, unknown /api and /v1 paths and wrong methods included. When a
secret is set (`api_key`, `password`), every route but /healthz and /readyz needs it (`security.SecretGate`);
/api/* and /v1/* take it as `Authorization: Bearer <secret>`. CORS is closed unless `cors_origins` names the
allowed origins.
"""

from __future__ import annotations

import logging
import threading

from fastapi import Depends, FastAPI, Request
from starlette.routing import Match, Mount

from shells.api.errors import ApiError, InternalErrorGuard, install_error_handlers, without_paths
from shells.api.security import API_PREFIXES, BodyLimitMiddleware, SecretGate, bearer
from shells.api.state import ApiState, Limits

__all__ = ["ApiError", "Limits", "create_api", "warm_up_in_background"]

log = logging.getLogger("brief.api")
ROUTE_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# The web chat's routes that take a question (when it is mounted at "/"): the same JSON body limit as the API.
CHAT_EVENT_PREFIXES = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")


def create_api(
    assistant,
    settings=None,
    api_key: str | None = None,
    *,
    password: str | None = None,
    ready: bool = True,
    limits: Limits | None = None,
    cors_origins: list[str] | None = None,
) -> FastAPI:
    """The API over `assistant`. With ready=False, /readyz and the model endpoints answer 503 until
    `app.state.brief.mark_ready()` (see `warm_up_in_background`)."""
    from shells.api import ask, documents, health, openai_compat

    settings = settings or assistant.settings
    limits = limits or Limits()
    app = FastAPI(
        title="brief API",
        version="0.1.0",
        description="Answers questions about the indexed policy brief with verified sentence-level citations.",
    )
    secrets = tuple(s for s in (api_key, password) if s)
    app.state.brief = ApiState(assistant=assistant, settings=settings, secrets=secrets, limits=limits)
    if ready:
        app.state.brief.mark_ready()
    install_error_handlers(app)

    secured = [Depends(bearer)]  # documents the scheme; SecretGate enforces it
    app.include_router(health.router)
    app.include_router(ask.router, dependencies=secured)
    app.include_router(documents.router, dependencies=secured)
    app.include_router(openai_compat.router, dependencies=secured)
    for prefix in API_PREFIXES:  # before anything mounted at "/" later (the web chat) can answer for them
        app.add_api_route(prefix + "{rest:path}", no_such_route, methods=ROUTE_METHODS, include_in_schema=False)

    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.server.max_request_bytes,
        limits={documents.UPLOAD_PATH: settings.limits.max_document_bytes + (64 << 10)},  # + multipart framing
        prefixes=(*API_PREFIXES, *CHAT_EVENT_PREFIXES),
    )
    state = app.state.brief
    app.add_middleware(
        SecretGate,
        get_secrets=lambda: state.secrets,
        is_public=lambda m, p: state.is_public(m, p),
        sessions=state.sessions,
    )
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(InternalErrorGuard)  # outermost of the app's own: a 500 keeps the connection
    return app


async def no_such_route(request: Request):
    """Unknown /api and /v1 paths: 404, or 405 when the path exists for other methods, in the error shape."""
    others = [
        method
        for method in ROUTE_METHODS
        if any(
            route.matches(dict(request.scope, method=method))[0] == Match.FULL
            for route in request.app.router.routes
            if getattr(route, "endpoint", None) is not no_such_route and not isinstance(route, Mount)  # the chat
        )
    ]
    if others:
        raise ApiError(
            405,
            f"method {request.method} is not allowed on {request.url.path}; use {', '.join(others)}",
            headers={"Allow": ", ".join(others)},
        )
    raise ApiError(404, f"no such endpoint: {request.method} {request.url.path}")


def warm_up_in_background(app: FastAPI) -> threading.Thread:
    """Load the index and the model, then have the model pre-read the indexed sentences (see
    `Assistant.prefill_prompt_cache`), in a thread; the app turns ready when done (503 on /readyz until then)."""
    state: ApiState = app.state.brief

    def reading(done: int, total: int) -> None:
        state.not_ready_reason = f"the model is pre-reading the indexed sentences ({done}/{total})"

    def run():
        try:
            state.assistant.warm_up()
            read = state.assistant.prefill_prompt_cache(progress=reading)
            if read:
                log.info("the model pre-read %d indexed sentences", read)
            state.mark_ready()
        except Exception as exc:  # noqa: BLE001 (reported by /readyz)
            log.exception("warm-up failed")
            state.not_ready_reason = f"loading failed: {without_paths(str(exc))}"  # /readyz is open to anyone

    thread = threading.Thread(target=run, name="brief-warm-up", daemon=True)
    thread.start()
    return thread
