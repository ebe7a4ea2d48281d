"""Helpers shared by the tests (no tests or fixtures here; the fixtures are in conftest.py): the repository's
paths, the one way the seeds are indexed, the real `brief` command in a subprocess, a free loopback port,
uvicorn serving an app in a thread, and the whole `brief serve` app (API + web chat) running on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRIEF = ROOT / "seeds" / "us-mali-reengagement-brief.txt"
QUESTION = "Which critical minerals does Mali hold reserves of?"  # its answer quotes two sentences
# Answered from one sentence, so the model writes (a quote of two is the answer without it).
MODEL_QUESTION = "Why does Mali's location matter for U.S. counterterrorism operations?"
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/install-browser; never a downloaded browser
BROWSER_ARGS = [  # without the networking flags Chromium keeps dialling out on this machine's closed network
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def indexed_settings(data_dir: Path, seeds: Path = ROOT / "seeds", **overrides):
    """Settings for `data_dir`, with the seeds (the repository's seeds/ unless told) indexed into it (real
    embedder, real Chroma)."""
    from assistant import load_settings
    from index.pipeline import index_paths

    settings = load_settings(data_dir=str(data_dir), **overrides)
    report = index_paths([seeds], settings, progress=False)
    assert report.errors == [], report.errors
    return settings


def run_brief(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `brief` command line in a subprocess."""
    full_env = os.environ | {"BRIEF_DATA_DIR": str(cwd / ".brief")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "shells.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class UvicornThread:
    """Serve an ASGI app on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def child_server(argv: list[str], ready_url: str, timeout: float = 90) -> Iterator[None]:
    """Run `argv` (a server) in a child process until `ready_url` answers 200; stop it afterwards."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(ready_url, timeout=timeout, process=process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_http(url: str, timeout: float = 60, process=None) -> None:
    """Poll `url` until it answers 200 (or the process dies, or time runs out)."""
    import httpx

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout}s: {last}")


@contextlib.contextmanager
def served(settings, **server_options) -> Iterator[tuple[str, object]]:
    """What `brief serve` runs (API + web chat at "/") for `settings`, on a free loopback port, once ready:
    yields (base URL, the Assistant)."""
    from assistant import Assistant
    from shells.server import build_server_app

    assistant = Assistant(settings)
    app = build_server_app(assistant, settings, **server_options)
    with UvicornThread(app) as running:
        wait_for_http(running.url + "/readyz", timeout=120)
        yield running.url, assistant


def gradio_event(client, fn_index: int, data: list, session_hash: str, timeout: float = 120) -> list[dict]:
    """Run one event of the web chat the way its page does, over raw HTTP: POST /gradio_api/queue/join, then
    read GET /gradio_api/queue/data until the event completes; returns the messages received."""
    import json

    joined = client.post(
        "/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None},
    )
    joined.raise_for_status()
    messages = []
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}, timeout=timeout) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[len("data:") :])
                messages.append(message)
                if message.get("msg") in {"process_completed", "close_stream"}:
                    break
    return messages


def chat_fn_index(config: dict, elem_id: str, trigger: str) -> int:
    """The index of the chat's event that `trigger` ("upload", "click", …) on the component `elem_id` runs."""
    (component,) = [c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id]
    for dependency in config["dependencies"]:
        if [component, trigger] in [list(t) for t in dependency["targets"]]:
            return dependency["id"]
    raise LookupError(f"no {trigger} event on #{elem_id}")


def api_fn_index(config: dict, api_name: str) -> int:
    (index,) = [d["id"] for d in config["dependencies"] if d.get("api_name") == api_name]
    return index
