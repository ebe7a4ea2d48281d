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
import math
import time
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


class LoginThrottle:
    """Pure ASGI: a per-client backoff on the web chat's login form (`POST /login`, where Gradio checks the
    secret). A client (by address) may give a wrong secret `free` times in a row; after each further wrong one it
    must wait before trying again, `first_wait_s` and then twice as long each time, up to `max_wait_s`. An attempt
    before its time is answered 429 with Retry-After, without the secret being tried, so guessing costs time that
    doubles. A right secret clears the client's record. At most `max_clients` records are kept (the oldest go)."""

    def __init__(
        self,
        app,
        *,
        paths: frozenset[str] = frozenset({"/login", "/login/"}),
        free: int = 5,
        first_wait_s: float = 1.0,
        max_wait_s: float = 300.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.app = app
        self.paths = paths
        self.free = free
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s
        self.max_clients = max_clients
        self.clock = clock
        self.clients: dict[str, tuple[int, float]] = {}  # address -> (wrong secrets in a row, next try allowed at)

    def wait_after(self, failures: int) -> float:
        if failures <= self.free:
            return 0.0
        return min(self.max_wait_s, self.first_wait_s * 2 ** (failures - self.free - 1))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown",))[0]
        failures, allowed_at = self.clients.get(client, (0, 0.0))
        wait = allowed_at - self.clock()
        if wait > 0:
            seconds = math.ceil(wait)
            message = f"too many wrong secrets from this address; try again in {seconds} s"
            return await _send_json(
                send, 429, error_body(429, message), extra_headers=[(b"retry-after", str(seconds).encode())]
            )
        status = 0

        async def watched_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched_send)
        if status == 200:
            self.clients.pop(client, None)
        elif status == 400:  # Gradio's answer to a wrong user name or secret ("Incorrect credentials.")
            self.clients.pop(client, None)  # re-inserted last: the dict stays in order of last failure
            self.clients[client] = (failures + 1, self.clock() + self.wait_after(failures + 1))
            while len(self.clients) > self.max_clients:
                del self.clients[next(iter(self.clients))]


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
