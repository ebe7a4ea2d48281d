"""One gate for every door, and a request body size limit (pure ASGI, so both also cover streams).

`SecretGate` stands in front of the whole `brief serve` app: the API, the OpenAPI docs, and the web chat with its
Gradio API. When any secret is configured (`--api-key`, `--password`, or both) every route needs one of them,
whichever was configured: /api/* and /v1/* as `Authorization: Bearer SECRET`; the web chat's routes as that
header or as the login cookie Gradio sets once the secret was given as the password at its login page. Only
the paths `is_public` names stay open: /healthz, /readyz, and what the chat's login page needs to show itself.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable

from fastapi.security import HTTPBearer
from starlette.requests import cookie_parser

from shells.api.errors import ApiError, error_body

UNAUTHORIZED = "missing or wrong credentials: send 'Authorization: Bearer <secret>' (the API key or the password)"
API_PREFIXES = ("/api/", "/v1/")
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})

# Documents the scheme in OpenAPI; `SecretGate` enforces it before any route runs.
bearer = HTTPBearer(auto_error=False, description="The server's API key or password (when one is configured).")


def matches_any(given: str, secrets: Iterable[str]) -> bool:
    """Constant-time comparison against every configured secret."""
    given_bytes = given.encode()
    return any(hmac.compare_digest(given_bytes, secret.encode()) for secret in secrets)


def health_only(method: str, path: str) -> bool:
    return path in HEALTH_PATHS


def cookies_of(scope) -> dict[str, str]:
    header = dict(scope.get("headers", [])).get(b"cookie", b"")
    return cookie_parser(header.decode("latin-1")) if header else {}


class SecretGate:
    """401 for a request without a configured secret, before body parsing, validation or size checks, so a
    caller without it learns nothing else. `get_secrets()` returns the configured secrets (none: all open);
    `is_public(method, path)` names the open routes; `sessions` are checks of the web chat's login cookie
    (`scope -> bool`), accepted outside /api and /v1 (which take the header only, so no other site can make a
    browser use them with its cookie)."""

    def __init__(
        self,
        app,
        *,
        get_secrets: Callable[[], tuple[str, ...]],
        is_public: Callable[[str, str], bool],
        sessions: list[Callable[[dict], bool]],
    ):
        self.app = app
        self.get_secrets = get_secrets
        self.is_public = is_public
        self.sessions = sessions

    def allowed(self, scope, secrets: tuple[str, ...]) -> bool:
        path = scope["path"]
        if self.is_public(scope.get("method", "GET"), path):
            return True
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and matches_any(given.strip(), secrets):
            return True
        if path.startswith(API_PREFIXES):
            return False
        return any(logged_in(scope) for logged_in in self.sessions)

    async def __call__(self, scope, receive, send):
        secrets = self.get_secrets() if scope["type"] in ("http", "websocket") else ()
        if secrets and not self.allowed(scope, secrets):
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await _send_json(
                send, 401, error_body(401, UNAUTHORIZED), extra_headers=[(b"www-authenticate", b"Bearer")]
            )
        await self.app(scope, receive, send)


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
