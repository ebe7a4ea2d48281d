"""One JSON error shape for every failure: {"error": {"message": ..., "type": ...}}, never a stack trace."""

from __future__ import annotations

import json
import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("brief.api")
INTERNAL_ERROR = "internal server error; see the server log"

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(StarletteHTTPException):
    """An error with a message for the caller; raised anywhere in a request (also from inside body reading)."""

    def __init__(self, status_code: int, message: str, *, type: str | None = None, headers: dict | None = None):
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.type = type or ERROR_TYPES.get(status_code, "error")


def error_body(status: int, message: str, type: str | None = None) -> dict:
    message = message.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate echoed back cannot be sent
    return {"error": {"message": message, "type": type or ERROR_TYPES.get(status, "error")}}


def error_response(status: int, message: str, type: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, type), status_code=status, headers=headers)


# FastAPI's words for a body that json.loads could not take: bytes that are not UTF-8, or nesting past the
# parser's recursion limit ('[[[[…'); the message says which rules the body broke.
_UNPARSED_BODY = "There was an error parsing the body"
UNPARSED_BODY = "the request body could not be read as JSON: it must be UTF-8 text and not nested too deeply"


def _http_message(exc: StarletteHTTPException) -> str | None:
    if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
        return UNPARSED_BODY
    return exc.detail if isinstance(exc.detail, str) else None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = _http_message(exc) or "request failed"
        if exc.status_code == 404 and not isinstance(exc, ApiError):
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405 and not isinstance(exc, ApiError):
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, message, getattr(exc, "type", None), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return error_response(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, INTERNAL_ERROR)


def install_chat_error_handlers(app) -> None:
    """The web chat's own (Gradio's) routes answer errors in the documented shape as well: `{"error": {"message",
    "type"}}`, beside Gradio's `"detail"`, which its page and `gradio_client` read (the login form, upload
    limits, validation errors). Validation errors keep only where and what, not the input they echo."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        if isinstance(detail, str):
            message = _http_message(exc)
        elif isinstance(detail, dict) and isinstance(detail.get("error"), str):
            message = detail["error"]  # Gradio's 401: {"error": "Not authenticated", "auth_message": ...}
        else:
            message = "request failed"
        body = error_body(exc.status_code, message) | {"detail": detail}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        detail = [{key: err[key] for key in ("type", "loc", "msg") if key in err} for err in exc.errors()]
        return JSONResponse(error_body(422, _validation_message(exc)) | {"detail": detail}, status_code=422)


class InternalErrorGuard:
    """Pure ASGI, around an app's routes: an exception that no handler turned into a response is logged with its
    traceback and answered here, with the JSON 500, and the request then ends normally. Without it Starlette
    answers the 500 and re-raises the exception, and uvicorn, seeing it, drops the connection without a
    `Connection: close`, so a client's next request on that keep-alive connection fails as well. An exception
    after the response has started (a stream cut short) is re-raised: closing the connection is then the only
    honest end of a body that will not be completed."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            data = json.dumps(error_body(500, INTERNAL_ERROR)).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": data})


# An absolute file path in a message (a model file, the data dir): "/srv/brief/.brief/chroma" but not the "/v1"
# of a URL (it follows a host) or a path relative to the working directory.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"(),;:]+/)*([^\s/'\"(),;:]+)")


def without_paths(message: str) -> str:
    """`message` with every absolute file path shortened to its last part, for callers who should learn nothing
    of the server's files (the whole message goes to the server log)."""
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(1), message)
