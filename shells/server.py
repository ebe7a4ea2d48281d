"""`serve`: the HTTP API (and the web chat at "/", when the ui package is importable) in one uvicorn server.

    from assistant import load_settings
    from shells.server import serve
    serve(load_settings(), host="127.0.0.1", port=7860, api_key="...")

On a non-loopback host a secret is required. On any host, a secret (the API key, the password, or both) guards
every door: /api/* and /v1/* take it as `Authorization: Bearer SECRET`; the web chat and its Gradio API take it
as the password of user 'brief' at the chat's login page (which sets a cookie; `gradio_client.Client(url,
auth=("brief", SECRET))` does the same). Either secret opens every door. Only /healthz and /readyz, and the
login page itself, are open without one (`shells.api.security.SecretGate`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

EXIT_USAGE = 2
AUTH_USER = "brief"
REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SERVE_FILE = "serve.json"  # in the data dir while `brief serve` runs: where `brief ask` finds it

log = logging.getLogger("brief.server")


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_file(settings) -> Path:
    return settings.store.data_dir / SERVE_FILE


def local_url(host: str, port: int) -> str:
    """The URL a process on this machine reaches the server at (a wildcard host is reached on loopback)."""
    if host in {"0.0.0.0", "", "::", "[::]"}:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def announce(settings, url: str) -> Path:
    """Write `{url, pid, collection, chroma_url}` to the data dir (atomically), for `brief ask` to reuse."""
    path = serve_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    record = {
        "url": url,
        "pid": os.getpid(),
        "collection": settings.store.collection,
        "chroma_url": settings.store.chroma_url,
    }
    partial.write_text(json.dumps(record), encoding="utf-8")
    partial.replace(path)
    return path


def withdraw(settings) -> None:
    """Remove the data dir's serve file if it is still this process's (another server may have replaced it)."""
    path = serve_file(settings)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """SIGTERM raises SystemExit, so that the serve file is removed: uvicorn shuts down gracefully on it, then
    restores the handler it found and sends the signal again, which by default ends the process at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def ensure_indexed(assistant, seeds: Path | None = None) -> None:
    """Index seeds/ (of the working directory, else of the repository) when the store is empty."""
    if not assistant.documents.is_empty():
        return
    seeds = seeds or (Path("seeds") if Path("seeds").is_dir() else REPO_SEEDS)
    print(f"brief: nothing indexed yet; indexing {seeds}/ …", file=sys.stderr)
    report = assistant.documents.index([seeds], progress=False)
    for error in report.errors:
        print(f"brief: error: {error}", file=sys.stderr)
    print(f"brief: {report.summary()}", file=sys.stderr)


# What the chat's login page needs before the login: the page itself, its scripts, styles and icons, and the
# login form's target. Nothing here reads documents or answers questions.
LOGIN_PAGE_PATHS = frozenset({"/", "/login", "/login/", "/theme.css", "/favicon.ico"})
LOGIN_PAGE_PREFIXES = ("/assets/", "/static/")


def public_route(method: str, path: str) -> bool:
    """Open even when a secret is set: health, readiness, and the chat's login page."""
    from shells.api.security import health_only

    return health_only(method, path) or path in LOGIN_PAGE_PATHS or path.startswith(LOGIN_PAGE_PREFIXES)


def build_server_app(assistant, settings, *, api_key: str | None = None, password: str | None = None, ui: bool = True):
    """The API app, with the Gradio chat mounted at "/" when `ui.app.build_app` can be imported. Not ready
    (503 on /readyz and the model endpoints) until the warm-up started here finishes."""
    from shells.api import create_api, warm_up_in_background
    from shells.api.errors import InternalErrorGuard, install_chat_error_handlers
    from shells.api.security import LoginThrottle, matches_any

    app = create_api(assistant, settings, api_key=api_key, password=password, ready=False)
    state = app.state.brief
    if ui:
        try:
            from ui.app import build_app
        except Exception as exc:  # noqa: BLE001 (the API works without the web chat)
            print(f"brief: warning: web chat not mounted ({exc}); serving the API only", file=sys.stderr)
        else:
            import gradio as gr

            def login(user: str, secret: str) -> bool:
                return user == AUTH_USER and matches_any(secret, state.secrets)

            chat = build_app(assistant)
            app = gr.mount_gradio_app(
                app,
                chat,
                path="/",
                auth=login if state.secrets else None,
                auth_message=f"User name: {AUTH_USER}; password: the server's password or API key"
                if state.secrets
                else None,
                ssr_mode=False,
                max_file_size=settings.limits.max_document_bytes,
                run_history=False,  # no run records kept in the browser or sent to a Hugging Face bucket
                show_error=False,  # the chat's own messages are gr.Errors; any other error's text stays in the log
            )
            # Gradio checks that a file handed to an event was received by its upload route only for Blocks it
            # launched itself (processing_utils._check_allowed returns early unless `has_launched`); mounted
            # Blocks would read any path a made-up FileData names. Mark them launched so the check runs.
            chat.has_launched = True
            state.is_public = public_route
            state.sessions.append(chat_login_check(app))
            chat_app = gradio_app_of(app)
            install_chat_error_handlers(chat_app)
            chat_app.add_middleware(InternalErrorGuard)  # inside Gradio's own 500 handler, which drops the connection
            app.add_middleware(LoginThrottle)
    warm_up_in_background(app)
    return app


def gradio_app_of(app):
    """The web chat's Gradio app, mounted in `app`."""
    from gradio.routes import App
    from starlette.routing import Mount

    return next(route.app for route in app.routes if isinstance(route, Mount) and isinstance(route.app, App))


def chat_login_check(app):
    """`scope -> bool`: does the request carry the cookie the chat's login (Gradio's /login) set?"""
    from shells.api.security import cookies_of

    chat = gradio_app_of(app)
    names = (f"access-token-{chat.cookie_id}", f"access-token-unsecure-{chat.cookie_id}")

    def logged_in(scope) -> bool:
        cookies = cookies_of(scope)
        return any(cookies.get(name) in chat.tokens for name in names)

    return logged_in


def serve(
    settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    password: str | None = None,
    api_key: str | None = None,
    *,
    ui: bool = True,
) -> int:
    """Run the server until interrupted; the exit code (2: refused to start, 1: cannot listen or load)."""
    if not is_loopback(host) and not (api_key or password):
        print(
            f"brief: error: serving on {host} makes the assistant reachable from other machines; "
            "set an API key with --api-key (and/or a web chat password with --password), "
            "or use --host 127.0.0.1",
            file=sys.stderr,
        )
        return EXIT_USAGE
    import uvicorn

    from assistant.assistant import Assistant
    from assistant.llm import ModelError
    from index.pipeline import REPAIR_NOTICE
    from index.store import StoreError

    try:
        assistant = Assistant(settings)
        repaired = assistant.documents.recover()
        if repaired is not None:
            print(f"brief: warning: {REPAIR_NOTICE.format(repaired.summary())}", file=sys.stderr)
        ensure_indexed(assistant)
        app = build_server_app(assistant, settings, api_key=api_key, password=password, ui=ui)
    except (ModelError, StoreError) as exc:
        print(f"brief: error: {exc}", file=sys.stderr)
        return 1
    print(f"brief: serving on http://{host}:{port} (API docs at /docs)", file=sys.stderr)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    with exit_on_sigterm():
        announce(settings, local_url(host, port))
        try:
            server.run()
        except KeyboardInterrupt:
            return 130
        except OSError as exc:
            print(f"brief: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 1
        finally:
            withdraw(settings)
    return 0 if server.started else 1
