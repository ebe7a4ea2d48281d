"""One secret guards every door: every route of the `brief serve` app (the API, its docs, the web chat and
its Gradio API, enumerated from the app itself) × {no secret, --api-key, --password, both} × {no credential,
a wrong one, the right one}, against real servers on loopback. Then the two clients a person uses: the
browser's login page and `gradio_client`."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from tests.support import BROWSER_ARGS, CHROMIUM, QUESTION, UvicornThread, indexed_settings, wait_for_http

pytestmark = pytest.mark.slow  # four real servers, every route under every secret, and a browser

KEY, PASSWORD = "matrix-key-1", "matrix-password-2"
SECRETS = {
    "none": {},
    "api-key": {"api_key": KEY},
    "password": {"password": PASSWORD},
    "both": {"api_key": KEY, "password": PASSWORD},
}
CREDENTIALS = ("none", "wrong", "right")

# Does a guarded route let the request through (True) or answer 401 (False)? One row per secret configured,
# one column per credential presented. /api/* and /v1/* take `Authorization: Bearer SECRET`; every other
# route takes the web chat's login cookie (Gradio's /login with user "brief" and SECRET as the password).
# With both configured, either secret is right.
EXPECTED = {
    #             none   wrong  right
    "none": (True, True, True),
    "api-key": (False, False, True),
    "password": (False, False, True),
    "both": (False, False, True),
}
# Open with any secret: liveness, readiness, and what the chat's login page needs to show itself and log in.
OPEN = {
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/readyz"),
    ("HEAD", "/readyz"),
    ("GET", "/"),
    ("HEAD", "/"),
    ("POST", "/login"),
    ("POST", "/login/"),
    ("GET", "/theme.css"),
    ("GET", "/favicon.ico"),
    ("GET", "/assets/{path:path}"),
    ("GET", "/static/{path:path}"),
}
MUST_COVER = {  # the doors the issue names; the enumeration must find them
    ("POST", "/api/ask"),
    ("POST", "/api/ask/stream"),
    ("GET", "/api/documents"),
    ("POST", "/api/documents"),
    ("DELETE", "/api/documents/{doc_id}"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file={path_or_url:path}"),
    ("GET", "/config"),
    ("GET", "/docs"),
}


def routes_of(routes, prefix: str = ""):
    """(method, path template) of every HTTP route, through included routers and mounts."""
    from fastapi.routing import _IncludedRouter
    from starlette.routing import Mount

    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield from routes_of(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield from routes_of(route.routes, prefix + route.path)
        elif getattr(route, "methods", None):
            for method in route.methods:
                yield method, prefix + route.path


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """One `brief serve` app per secret configuration, all over one Assistant."""
    from assistant import Assistant
    from shells.server import build_server_app

    settings = indexed_settings(tmp_path_factory.mktemp("auth-matrix"), prefill_sentences=0)
    assistant = Assistant(settings)
    running, routes = {}, {}
    try:
        for name, secrets in SECRETS.items():
            app = build_server_app(assistant, settings, **secrets)
            routes[name] = sorted(set(routes_of(app.routes)))
            running[name] = UvicornThread(app).__enter__()
            wait_for_http(running[name].url + "/readyz", timeout=120)
        yield {name: (server.url, routes[name]) for name, server in running.items()}
    finally:
        for server in running.values():
            server.__exit__(None, None, None)


def right_secrets(name: str) -> list[str]:
    return [s for s in (SECRETS[name].get("api_key"), SECRETS[name].get("password")) if s] or ["anything"]


def chat_cookie(url: str, secret: str) -> dict:
    response = httpx.post(url + "/login", data={"username": "brief", "password": secret})
    assert response.status_code == 200, response.text
    return dict(response.cookies)


def status_of(url: str, method: str, path: str, headers: dict, cookies: dict) -> int:
    """The status line only: streaming routes (heartbeat, queue data) are left as soon as it arrives."""
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    with (
        httpx.Client(base_url=url, headers=headers, cookies=cookies, timeout=60) as client,
        client.stream(method, concrete, json=body) as response,
    ):
        return response.status_code


def test_every_route_under_every_secret_and_credential(servers):
    open_doors, locked_out, checked = [], [], 0
    for name, (url, routes) in servers.items():
        assert set(routes) >= MUST_COVER, MUST_COVER - set(routes)
        forged = {cookie: "forged" for cookie in chat_cookie(url, right_secrets(name)[0])} if SECRETS[name] else {}
        for method, path in routes:
            is_api = path.startswith(("/api/", "/v1/"))
            for column, credential in enumerate(CREDENTIALS):
                if credential == "right":  # (headers, cookies) made just before the request
                    attempts = [
                        (lambda s=secret: ({"Authorization": f"Bearer {s}"}, {}))
                        if is_api
                        else (lambda s=secret, u=url, n=name: ({}, chat_cookie(u, s) if SECRETS[n] else {}))
                        for secret in right_secrets(name)
                    ]
                elif credential == "wrong":  # a wrong secret, and the chat's login cookies with a forged token
                    attempts = [lambda f=forged: ({"Authorization": "Bearer not-the-secret"}, f)]
                else:
                    attempts = [lambda: ({}, {})]
                expected = True if (method, path) in OPEN else EXPECTED[name][column]
                for attempt in attempts:
                    # a fresh login per request: one route (/logout) ends every session of the user
                    status = status_of(url, method, path, *attempt())
                    checked += 1
                    if expected and status == 401:
                        locked_out.append((name, credential, method, path, status))
                    if not expected and status != 401:
                        open_doors.append((name, credential, method, path, status))
    assert open_doors == [], f"{len(open_doors)} open doors: {open_doors[:20]}"
    assert locked_out == [], f"{len(locked_out)} right credentials refused: {locked_out[:20]}"
    assert checked > 4 * 3 * 60  # every route of four apps, three credentials each


def test_gradio_client_presents_the_secret_as_the_login(servers):
    from gradio_client import Client

    url = servers["api-key"][0]
    result = Client(url + "/", auth=("brief", KEY), verbose=False).predict(QUESTION, api_name="/ask")
    assert not result["refused"] and "lithium" in result["answer"].lower()
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises different errors by version)
        Client(url + "/", verbose=False).predict(QUESTION, api_name="/ask")
    with pytest.raises(Exception):  # noqa: B017
        Client(url + "/", auth=("brief", "wrong"), verbose=False)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not found; run .ci/install-browser")
def test_a_browser_logs_in_with_the_api_key_and_asks(servers):
    """An --api-key-only server: the chat's login page takes the key as the password of user 'brief'."""
    from playwright.sync_api import sync_playwright

    url = servers["api-key"][0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(url + "/")
            page.locator("input[type=password]").fill("wrong")
            page.locator("input[type=text]").first.fill("brief")
            page.keyboard.press("Enter")
            page.get_by_text("Incorrect credentials").wait_for()
            assert page.locator("#question textarea").count() == 0
            page.locator("input[type=text]").first.fill("brief")
            page.locator("input[type=password]").fill(KEY)
            page.keyboard.press("Enter")
            page.locator("#question textarea").fill(QUESTION)
            page.locator("#ask").click()
            page.locator(f'#sources .brief-sources[data-question="{QUESTION}"]').wait_for()
            assert "lithium" in page.locator('#chat [data-testid="bot"]').last.inner_text().lower()
        finally:
            browser.close()
