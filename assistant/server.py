"""`serve`: the HTTP API (and the web chat at "/", when the ui package is importable) in one uvicorn server.

    from assistant import load_settings
    from assistant.server import serve
    serve(load_settings(), host="127.0.0.1", port=7860, api_key="...")

On a non-loopback host a secret is required: the API key protects /api/* and /v1/*, the password protects the
web chat (user 'brief'). If only one of them is given it is used for both, so nothing is served unprotected.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

EXIT_USAGE = 2
AUTH_USER = "brief"
REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"

log = logging.getLogger("brief.server")


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ensure_indexed(assistant, seeds: Path | None = None) -> None:
    """Index seeds/ (of the working directory, else of the repository) when the store is empty."""
    if assistant.store.count() > 0:
        return
    from index.pipeline import index_paths

    seeds = seeds or (Path("seeds") if Path("seeds").is_dir() else REPO_SEEDS)
    print(f"brief: nothing indexed yet; indexing {seeds}/ …", file=sys.stderr)
    report = index_paths([seeds], assistant.settings, progress=False, store=assistant.store)
    for error in report.errors:
        print(f"brief: error: {error}", file=sys.stderr)
    print(f"brief: {report.summary()}", file=sys.stderr)


def build_server_app(assistant, settings, *, api_key: str | None = None, password: str | None = None, ui: bool = True):
    """The API app, with the Gradio chat mounted at "/" when `ui.app.build_app` can be imported. Not ready
    (503 on /readyz and the model endpoints) until the warm-up started here finishes."""
    from assistant.api import create_api, warm_up_in_background

    app = create_api(assistant, settings, api_key=api_key, ready=False)
    if ui:
        try:
            from ui.app import build_app
        except Exception as exc:  # noqa: BLE001 (the API works without the web chat)
            print(f"brief: warning: web chat not mounted ({exc}); serving the API only", file=sys.stderr)
        else:
            import gradio as gr

            app = gr.mount_gradio_app(
                app,
                build_app(assistant),
                path="/",
                auth=(AUTH_USER, password) if password else None,
                auth_message="User name: brief" if password else None,
                ssr_mode=False,
                max_file_size=settings.max_upload_bytes,
            )
    warm_up_in_background(app)
    return app


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
    if not is_loopback(host):
        if not (api_key or password):
            print(
                f"brief: error: serving on {host} makes the assistant reachable from other machines; "
                "set an API key with --api-key (and/or a web chat password with --password), "
                "or use --host 127.0.0.1",
                file=sys.stderr,
            )
            return EXIT_USAGE
        api_key = api_key or password
        password = password or api_key
    import uvicorn

    from assistant.core import Assistant
    from assistant.documents import recover_uploads
    from assistant.llm import ModelError
    from index.store import StoreError

    try:
        assistant = Assistant(settings)
        recover_uploads(assistant.store, settings)
        ensure_indexed(assistant)
        app = build_server_app(assistant, settings, api_key=api_key, password=password, ui=ui)
    except (ModelError, StoreError) as exc:
        print(f"brief: error: {exc}", file=sys.stderr)
        return 1
    print(f"brief: serving on http://{host}:{port} (API docs at /docs)", file=sys.stderr)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"brief: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0 if server.started else 1
