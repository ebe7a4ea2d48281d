"""Loopback load test of the HTTP API: N concurrent clients for T seconds, each with its own conversation,
mixing plain questions, streamed answers read to the end, streams dropped after their first event, and (in one
more task) uploads and deletes of documents while the questions run.

    .venv/bin/python scripts/bench/load_test.py --spawn                       # start a server on a free loopback port
    .venv/bin/python scripts/bench/load_test.py --url http://127.0.0.1:8000 --api-key KEY --server-pid PID \\
        --clients 30 --duration 60

Bounded in time (--duration, plus the requests in flight at the end) and in count (--max-requests). First a
calibration pass asks each question once, alone, and keeps the questions whose answer contains their expected
facts. Under load every answer (plain or streamed) should still contain its own question's facts (and its
citations quote them); every question after a client's first carries that client's earlier turns, so most are
follow-ups in form. An answer that does not is replayed alone afterwards with the same question and history:
the same answer means the conversation changed what the (greedy, deterministic) model wrote; a different one
is a mix-up between concurrent requests (reported with the other questions whose facts it holds). 429/503 with
Retry-After are the documented "busy" answers and are counted apart from errors. The server's resident memory
(RSS, from /proc) is read after calibration and again after the load, once the server is idle.

Every response of 500 or more (a 503 "busy" too, and an error event inside a stream) is counted in
`responses_5xx`, and every request whose connection the server dropped or reset (the next request on a
keep-alive connection included) in `connection_resets`.

Exit code 0 only if there were no errors, no response of 500 or more, no connection reset, no mixed-up answers,
and RSS grew by at most --max-rss-growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench_api import QUESTIONS, load_questions, spawned_server

from workbench.evaluation import percentile

# What each client does on its turns, in this rotation (offset by the client's number).
ACTIONS = ("ask", "ask", "stream", "ask", "drop")


def contains_all(text: str, facts: list[str]) -> bool:
    text = text.lower()
    return all(f.lower() in text for f in facts)


def holds_its_facts(body: dict, item: dict) -> bool:
    quotes = " ".join(c["quote"] for c in body["citations"])
    return not body["refused"] and contains_all(body["answer"], item["facts"]) and contains_all(quotes, item["facts"])


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def child_pids() -> list[int]:
    """This process's children (the server that --spawn started)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            children.append(int(stat.parent.name))
    return children


async def calibrate(client, items: list[dict]) -> list[dict]:
    """The questions answered correctly when asked alone (no history)."""
    kept = []
    for item in items:
        response = await client.post("/api/ask", json={"question": item["question"]})
        if response.status_code != 200:
            raise SystemExit(f"calibration failed: {response.status_code} {response.text[:200]}")
        if holds_its_facts(response.json(), item):
            kept.append(item)
    return kept


async def streamed_answer(client, body: dict, drop: bool) -> tuple[int, dict | None, dict]:
    """POST /api/ask/stream: (status, the final answer or None, headers). With `drop`, the connection is
    closed after the first event, mid-answer."""
    async with client.stream("POST", "/api/ask/stream", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return response.status_code, None, dict(response.headers) | {"_text": response.text}
        event, answer = None, None
        async for line in response.aiter_lines():
            if drop and line.startswith("data: "):
                return 200, None, {}
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: ") and event in {"answer", "error"}:
                answer = {event: json.loads(line[len("data: ") :])}
        return 200, answer, {}


def transport_failure(results, what: str, exc: Exception) -> None:
    """A request that got no response: a dropped or reset connection, or a timeout; all are errors."""
    import httpx

    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException):
        results["resets"] += 1
    results["errors"].append(f"{what}: {type(exc).__name__}: {exc}")


def server_failure(results, what: str, status: int, text: str) -> None:
    results["responses_5xx"] += 1
    results["errors"].append(f"{what}: {status} {text[:200]}")


async def run_client(n, client, questions, deadline, budget, results):
    history: list[dict] = []
    turn = 0
    while time.monotonic() < deadline and budget["left"] > 0:
        budget["left"] -= 1
        item = questions[(n + turn * 7) % len(questions)]
        action = ACTIONS[(n + turn) % len(ACTIONS)]
        turn += 1
        body = {"question": item["question"], "history": history[-4:]}
        started = time.perf_counter()
        try:
            if action == "ask":
                response = await client.post("/api/ask", json=body)
                status, headers = response.status_code, response.headers
                answer = response.json() if status == 200 else None
                text = response.text
            else:
                status, streamed, headers = await streamed_answer(client, body, drop=action == "drop")
                text = headers.pop("_text", "")
                if action == "drop" and status == 200:
                    results["dropped"] += 1
                    continue
                if streamed and "error" in streamed:  # the stream's 200 went out; the error is a 5xx all the same
                    server_failure(results, f"client {n}: stream error", 500, json.dumps(streamed["error"]))
                    continue
                answer = streamed["answer"] if streamed else None
        except Exception as exc:  # noqa: BLE001 (a transport error is a load-test error)
            transport_failure(results, f"client {n}: {action}", exc)
            continue
        elapsed = time.perf_counter() - started
        if status in (429, 503) and "retry-after" in headers:
            results["busy"] += 1
            if status >= 500:
                server_failure(results, f"client {n}: {action}: busy", status, text)
            await asyncio.sleep(min(float(headers["retry-after"]), 5))
            continue
        if status >= 500:
            server_failure(results, f"client {n}: {action}", status, text)
            continue
        if status != 200 or answer is None:
            results["errors"].append(f"client {n}: {action}: {status} {text[:200]}")
            continue
        results["latencies"].append(elapsed)
        results["answers_by_kind"][action] += 1
        if holds_its_facts(answer, item):
            results["ok"] += 1
        else:
            results["suspects"].append((n, item, body["history"], answer["answer"]))
        history += [{"role": "user", "content": item["question"]}, {"role": "assistant", "content": answer["answer"]}]


async def churn_documents(client, deadline, results):
    """Upload a small document, check it is listed, delete it, check it is gone; again until the deadline."""
    n = 0
    while time.monotonic() < deadline:
        n += 1
        name = f"load-test-{os.getpid()}-{n}.md"
        text = f"# Beacon {n}\n\nThe load test beacon number {n} stands {100 + n} metres tall.\n"

        async def checked(method: str, path: str, expected: int, what: str, **kwargs):
            response = await client.request(method, path, **kwargs)
            if response.status_code >= 500:
                server_failure(results, what, response.status_code, response.text)
            elif response.status_code != expected:
                results["errors"].append(f"{what}: {response.status_code} {response.text[:200]}")
            return response if response.status_code == expected else None

        try:
            files = {"file": (name, text.encode(), "text/markdown")}
            if (response := await checked("POST", "/api/documents", 201, f"upload {name}", files=files)) is None:
                continue
            doc = response.json()
            if (listing := await checked("GET", "/api/documents", 200, f"list after upload {name}")) is None:
                continue
            if doc["id"] not in {d["id"] for d in listing.json()["documents"]}:
                results["errors"].append(f"upload {name}: not listed after upload")
            if await checked("DELETE", f"/api/documents/{doc['id']}", 204, f"delete {name}") is None:
                continue
            if (listing := await checked("GET", "/api/documents", 200, f"list after delete {name}")) is None:
                continue
            if doc["id"] in {d["id"] for d in listing.json()["documents"]}:
                results["errors"].append(f"delete {name}: still listed after delete")
            results["uploaded_and_deleted"] += 1
        except Exception as exc:  # noqa: BLE001
            transport_failure(results, "documents", exc)
        finally:
            await asyncio.sleep(1)


async def idle_rss(client, pid: int | None, settle_s: float = 5) -> int | None:
    """The server's RSS once nothing is queued (readiness answers and a few seconds have passed)."""
    if pid is None:
        return None
    await client.get("/readyz")
    await asyncio.sleep(settle_s)
    return rss_bytes(pid)


async def load_test(url, api_key, pid, clients, duration, max_requests, question_file, max_replays=50) -> dict:
    import httpx

    items = [
        q for q in load_questions(question_file) if q.get("answerable") and not q.get("history") and q.get("facts")
    ]
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600, limits=limits) as client:
        questions = await calibrate(client, items)
        if len(questions) < 2:
            raise SystemExit("calibration kept fewer than 2 questions; is the brief indexed?")
        rss_before = await idle_rss(client, pid)
        results = {
            "ok": 0,
            "busy": 0,
            "responses_5xx": 0,
            "resets": 0,
            "dropped": 0,
            "uploaded_and_deleted": 0,
            "answers_by_kind": {"ask": 0, "stream": 0},
            "errors": [],
            "mixed": [],
            "suspects": [],
            "history_dependent": [],
            "latencies": [],
        }
        budget = {"left": max_requests}
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(
            churn_documents(client, deadline, results),
            *(run_client(n, client, questions, deadline, budget, results) for n in range(clients)),
        )
        wall = time.monotonic() - started
        # An answer without its facts is either the model answering differently because of the conversation
        # (the same request asked alone gives the same answer: greedy decoding is deterministic) or a mix-up.
        for n, item, history, answer in results["suspects"][:max_replays]:
            replay = await client.post("/api/ask", json={"question": item["question"], "history": history})
            if replay.status_code == 200 and replay.json()["answer"] == answer:
                results["history_dependent"].append({"client": n, "question": item["question"], "answer": answer[:200]})
            else:
                others = [q["id"] for q in questions if q is not item and contains_all(answer, q["facts"])]
                results["mixed"].append(
                    {"client": n, "question": item["question"], "answer": answer[:300], "looks_like": others}
                )
        unchecked = max(0, len(results["suspects"]) - max_replays)
        rss_after = await idle_rss(client, pid)
    lat = results["latencies"]
    return {
        "clients": clients,
        "duration_s": round(wall, 1),
        "questions_used": len(questions),
        "answers": len(lat),
        "answers_by_kind": results["answers_by_kind"],
        "correct": results["ok"],
        "streams_dropped": results["dropped"],
        "documents_uploaded_and_deleted": results["uploaded_and_deleted"],
        "busy_429_503": results["busy"],
        "responses_5xx": results["responses_5xx"],
        "connection_resets": results["resets"],
        "errors": len(results["errors"]),
        "mixed_up": len(results["mixed"]),
        "without_facts_but_same_when_asked_alone": len(results["history_dependent"]),
        "without_facts_not_replayed": unchecked,
        "throughput_per_s": round(len(lat) / wall, 2) if wall else 0,
        "latency_median_s": round(statistics.median(lat), 2) if lat else None,
        "latency_p95_s": round(percentile(lat, 0.95), 2) if lat else None,
        "server_rss_before_mib": round(rss_before / 2**20, 1) if rss_before else None,
        "server_rss_after_mib": round(rss_after / 2**20, 1) if rss_after else None,
        "server_rss_growth": round(rss_after / rss_before - 1, 4) if rss_before and rss_after else None,
        "error_samples": results["errors"][:5],
        "mixed_samples": results["mixed"][:5],
        "history_dependent_samples": results["history_dependent"][:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=os.environ.get("BRIEF_API_KEY"))
    parser.add_argument("--server-pid", type=int, help="the running server's process id, to read its RSS")
    parser.add_argument("--spawn", action="store_true", help="start a server for the run (on a free port)")
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--max-rss-growth", type=float, default=0.10, help="fail above this RSS growth (0.10: 10%%)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    if not args.url and not args.spawn:
        parser.error("give --url or --spawn")
    run = lambda url, key, pid: asyncio.run(  # noqa: E731
        load_test(url, key, pid, args.clients, args.duration, args.max_requests, args.questions)
    )
    if args.spawn:
        with spawned_server() as (url, key):
            (pid,) = child_pids()
            report = run(url, key, pid)
    else:
        report = run(args.url, args.api_key, args.server_pid)
    print(json.dumps(report, indent=2))
    failed = failures(report, args.max_rss_growth)
    print(f"load test: {'FAILED: ' + ', '.join(failed) if failed else 'passed'}", file=sys.stderr)
    return 1 if failed else 0


def failures(report: dict, max_rss_growth: float) -> list[str]:
    """What makes the run fail: any error, any response of 500 or more, any connection reset or mix-up, an
    answer left unchecked, or RSS growth over the limit."""
    found = [
        f"{report[key]} {key}"
        for key in ("errors", "responses_5xx", "connection_resets", "mixed_up", "without_facts_not_replayed")
        if report[key]
    ]
    growth = report["server_rss_growth"]
    if growth is not None and growth > max_rss_growth:
        found.append(f"RSS grew by {growth:.1%}")
    return found


if __name__ == "__main__":
    sys.exit(main())
