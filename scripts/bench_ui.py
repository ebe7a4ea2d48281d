"""Time to first streamed token and to the full answer, measured through the web app's streaming endpoint.

    .venv/bin/python scripts/bench_ui.py                    # start `brief serve`'s app in-process (temporary index)
    .venv/bin/python scripts/bench_ui.py --url http://127.0.0.1:7860/   # drive an app that is already running

Uses gradio_client's `submit` on /ask_stream, which yields the answer text as it grows and, last, the final
verified answer. Prints each question's figures, then median and p95. Not a test.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WARM_UP = "What does the brief say about Mali's neighbours?"
QUESTIONS = [
    "Which critical minerals does Mali hold reserves of?",
    "Why is the United States re-engaging with Mali?",
    "Which country has Mali shifted its security partnerships towards?",
    "Why does Mali matter for U.S. counterterrorism?",
    "What is Mali a major producer of?",
    "Which U.S. bureau announced the re-engagement with Mali?",
    "Why does the U.S. want to reduce its dependence on Chinese supply chains?",
    "What alliance is Mali a significant player in?",
    "Does the U.S. aim to respect Mali's sovereignty?",
    "What is Mali's population?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def start_app(data_dir: str | None):
    """What `brief serve` runs (web chat + API, one uvicorn server) on a free loopback port, in this process."""
    import os
    import threading

    import httpx
    import uvicorn

    os.chdir(REPO)
    from assistant import Assistant, load_settings
    from assistant.server import build_server_app, ensure_indexed

    settings = load_settings(data_dir=data_dir or tempfile.mkdtemp(prefix="brief-bench-"))
    assistant = Assistant(settings)
    ensure_indexed(assistant)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_server_app(assistant, settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        raise SystemExit("the app did not become ready")

    def stop():
        server.should_exit = True

    return stop, url + "/"


def measure(client, question: str) -> tuple[float | None, float, str]:
    started = time.perf_counter()
    first = None
    job = client.submit(question, "[]", api_name="/ask_stream")
    last = ""
    for out in job:
        if first is None and out:
            first = time.perf_counter() - started
        last = out
    total = time.perf_counter() - started
    outputs = job.outputs()
    if outputs:
        last = outputs[-1]
    if len(outputs) <= 1:  # refusals and other answers with no model text: nothing streamed
        first = None
    return first, total, last


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app; default: start one in-process")
    parser.add_argument("--data-dir", help="index to use when starting in-process (default: a temporary one)")
    parser.add_argument("--password", help="password of a protected app (user 'brief')")
    args = parser.parse_args(argv)

    from gradio_client import Client

    stop = None
    url = args.url
    if not url:
        stop, url = start_app(args.data_dir)
    try:
        client = Client(url, verbose=False, auth=("brief", args.password) if args.password else None)
        measure(client, WARM_UP)  # not counted (and not one of the questions, whose prompt it would cache)
        firsts, totals = [], []
        print(f"{'first token':>12} {'full answer':>12}  question")
        for q in QUESTIONS:
            first, total, final = measure(client, q)
            totals.append(total)
            if first is not None:
                firsts.append(first)
            shown = f"{first:10.3f} s" if first is not None else f"{'(none)':>12}"
            print(f"{shown} {total:10.3f} s  {q}  ->  {final[:60]!r}")
        print()
        if firsts:
            print(
                f"time to first token: median {statistics.median(firsts):.3f} s, "
                f"p95 {percentile(firsts, 0.95):.3f} s  ({len(firsts)} streamed answers)"
            )
        print(
            f"time to full answer: median {statistics.median(totals):.3f} s, "
            f"p95 {percentile(totals, 0.95):.3f} s  ({len(totals)} questions)"
        )
    finally:
        if stop is not None:
            stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
