"""Bearer API key on /api/* and /v1/*, and a request body size limit (pure ASGI, so it also covers streams)."""

from __future__ import annotations

import hmac
import json

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.api.errors import ApiError, error_body

UNAUTHORIZED = "missing or wrong API key: send 'Authorization: Bearer <key>'"

bearer = HTTPBearer(auto_error=False, description="The server's API key (required when one is configured).")


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the configured key is presented as `Authorization: Bearer KEY`."""
    expected = request.app.state.brief.api_key
    if not expected:
        return
    credentials: HTTPAuthorizationCredentials | None = await bearer(request)
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            401,
            UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )


class BodyTooLarge(ApiError):
    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413: at once when Content-Length says so, else when the count passes
    the limit while the endpoint reads. Only paths under `prefixes` are limited (the web UI has its own)."""

    def __init__(self, app, *, default_limit: int, limits: dict[str, int], prefixes: tuple[str, ...]):
        self.app = app
        self.default_limit = default_limit
        self.limits = limits  # exact path -> limit (e.g. the upload endpoint)
        self.prefixes = prefixes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"].rstrip("/"), self.default_limit)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    return await _send_json(send, 413, error_body(413, BodyTooLarge(limit).detail))
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


async def _send_json(send, status: int, body: dict, extra_headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
            + (extra_headers or []),
        }
    )
    await send({"type": "http.response.body", "body": data})


class ApiKeyMiddleware:
    """Check the bearer key before anything else (body parsing, validation, size), so a caller without the
    key learns nothing but 401. The `require_api_key` dependency documents the scheme in OpenAPI."""

    def __init__(self, app, *, get_key, prefixes: tuple[str, ...]):
        self.app = app
        self.get_key = get_key
        self.prefixes = prefixes

    async def __call__(self, scope, receive, send):
        expected = self.get_key()
        if scope["type"] == "http" and expected and scope["path"].startswith(self.prefixes):
            header = dict(scope.get("headers", [])).get(b"authorization", b"")
            scheme, _, given = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), expected.encode()):
                return await _send_json(
                    send,
                    401,
                    error_body(401, UNAUTHORIZED),
                    extra_headers=[(b"www-authenticate", b"Bearer")],
                )
        await self.app(scope, receive, send)
