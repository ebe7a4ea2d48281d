"""Latency of POST /api/ask over the brief's question set, as a client sees it (sequential requests).

    .venv/bin/python scripts/bench/bench_api.py --spawn                      # start a server on a free loopback port
    .venv/bin/python scripts/bench/bench_api.py --url http://127.0.0.1:8000 --api-key KEY

Prints the median and p95 of the client-side latency and of the server's own `timings.total_s`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbench.evaluation import percentile

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "questions" / "brief.jsonl"

SERVER = """
import sys
from assistant import load_settings
from shells.server import serve
sys.exit(serve(load_settings(data_dir=sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]),
               api_key=sys.argv[3] or None, ui=sys.argv[4] == "ui"))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def spawned_server(timeout: float = 180, ui: bool = False):
    """`shells.server.serve` (the API, and the web chat if `ui`) in a child process on a free loopback port,
    over a fresh data dir (seeds/ indexed on start). Yields (url, api_key); the web chat has no key."""
    import httpx

    port, key = free_port(), "" if ui else secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="brief-bench-") as tmp:
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(Path(tmp) / ".brief"), str(port), key, "ui" if ui else "api"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"server exited ({process.returncode}): {process.stderr.read()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("server did not become ready in time")
                time.sleep(0.5)
            yield url, key
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def bench(url: str, api_key: str | None, questions: list[dict]) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client_s, server_s, failures = [], [], 0
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for item in questions:
            history = [{"role": "user", "content": h} for h in item.get("history", [])]
            started = time.perf_counter()
            response = client.post("/api/ask", json={"question": item["question"], "history": history})
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                failures += 1
                print(f"  {response.status_code}: {item['question']!r}: {response.text[:200]}", file=sys.stderr)
                continue
            client_s.append(elapsed)
            server_s.append(response.json()["timings"]["total_s"])
    return {
        "questions": len(questions),
        "failures": failures,
        "client_median_s": round(statistics.median(client_s), 3) if client_s else None,
        "client_p95_s": round(percentile(client_s, 0.95), 3) if client_s else None,
        "server_median_s": round(statistics.median(server_s), 3) if server_s else None,
        "server_p95_s": round(percentile(server_s, 0.95), 3) if server_s else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=os.environ.get("BRIEF_API_KEY"))
    parser.add_argument("--spawn", action="store_true", help="start a server for the run (on a free port)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args()
    if not args.url and not args.spawn:
        parser.error("give --url or --spawn")
    questions = load_questions(args.questions)
    if args.limit:
        questions = questions[: args.limit]
    if args.spawn:
        with spawned_server() as (url, key):
            result = bench(url, key, questions)
    else:
        result = bench(args.url, args.api_key, questions)
    print(json.dumps(result, indent=2))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
