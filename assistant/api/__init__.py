"""The HTTP API: `create_api(assistant, settings, api_key)` returns a FastAPI app with

- POST /api/ask, POST /api/ask/stream (server-sent events)
- GET/POST /api/documents, DELETE /api/documents/{id}
- POST /v1/chat/completions, GET /v1/models (OpenAI-compatible)
- GET /healthz, GET /readyz; OpenAPI docs at /docs

Errors are JSON {"error": {"message", "type"}}. When `api_key` is set, /api/* and /v1/* need
`Authorization: Bearer <api_key>`. CORS is closed unless `cors_origins` names the allowed origins.
"""

from __future__ import annotations

import logging
import threading

from fastapi import Depends, FastAPI

from assistant.api.errors import ApiError, install_error_handlers
from assistant.api.security import ApiKeyMiddleware, BodyLimitMiddleware, require_api_key
from assistant.api.state import ApiState, Limits

__all__ = ["ApiError", "Limits", "create_api", "warm_up_in_background"]

log = logging.getLogger("brief.api")


def create_api(
    assistant,
    settings=None,
    api_key: str | None = None,
    *,
    ready: bool = True,
    limits: Limits | None = None,
    cors_origins: list[str] | None = None,
) -> FastAPI:
    """The API over `assistant`. With ready=False, /readyz and the model endpoints answer 503 until
    `app.state.brief.mark_ready()` (see `warm_up_in_background`)."""
    from assistant.api import ask, documents, health, openai_compat

    settings = settings or assistant.settings
    limits = limits or Limits()
    app = FastAPI(
        title="brief API",
        version="0.1.0",
        description="Answers questions about the indexed policy brief with verified sentence-level citations.",
    )
    app.state.brief = ApiState(assistant=assistant, settings=settings, api_key=api_key or None, limits=limits)
    if ready:
        app.state.brief.mark_ready()
    install_error_handlers(app)

    secured = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(ask.router, dependencies=secured)
    app.include_router(documents.router, dependencies=secured)
    app.include_router(openai_compat.router, dependencies=secured)

    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=limits.max_body_bytes,
        limits={documents.UPLOAD_PATH: settings.max_document_bytes + (64 << 10)},  # + multipart framing
        prefixes=("/api/", "/v1/"),
    )
    state = app.state.brief
    app.add_middleware(ApiKeyMiddleware, get_key=lambda: state.api_key, prefixes=("/api/", "/v1/"))
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


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
            state.not_ready_reason = f"loading failed: {exc}"

    thread = threading.Thread(target=run, name="brief-warm-up", daemon=True)
    thread.start()
    return thread
