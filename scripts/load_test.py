"""Loopback load test of POST /api/ask: N concurrent clients for T seconds, each with its own conversation.

    .venv/bin/python scripts/load_test.py --spawn                       # start a server on a free loopback port
    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:8000 --api-key KEY --clients 20 --duration 60

Bounded in time (--duration, plus the requests in flight at the end) and in count (--max-requests). First a
calibration pass asks each question once, alone, and keeps the questions whose answer contains their expected
facts. Under load every answer should still contain its own question's facts (and its citations quote them).
An answer that does not is replayed alone afterwards with the same question and history: the same answer
means the conversation changed what the (greedy, deterministic) model wrote; a different one is a mix-up
between concurrent requests (reported with the other questions whose facts it holds). 429/503 with Retry-After are the documented "busy" answers and are counted apart from errors.
Exit code 0 only if there were no errors and no mixed-up answers.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import QUESTIONS, load_questions, spawned_server  # noqa: E402

from assistant.evaluation import percentile  # noqa: E402


def contains_all(text: str, facts: list[str]) -> bool:
    text = text.lower()
    return all(f.lower() in text for f in facts)


async def calibrate(client, items: list[dict]) -> list[dict]:
    """The questions answered correctly when asked alone (no history)."""
    kept = []
    for item in items:
        response = await client.post("/api/ask", json={"question": item["question"]})
        if response.status_code != 200:
            raise SystemExit(f"calibration failed: {response.status_code} {response.text[:200]}")
        body = response.json()
        quotes = " ".join(c["quote"] for c in body["citations"])
        if not body["refused"] and contains_all(body["answer"], item["facts"]) and contains_all(quotes, item["facts"]):
            kept.append(item)
    return kept


async def run_client(n, client, questions, deadline, budget, results):
    history: list[dict] = []
    turn = 0
    while time.monotonic() < deadline and budget["left"] > 0:
        budget["left"] -= 1
        item = questions[(n + turn * 7) % len(questions)]
        turn += 1
        started = time.perf_counter()
        try:
            response = await client.post("/api/ask", json={"question": item["question"], "history": history[-4:]})
        except Exception as exc:  # noqa: BLE001 (a transport error is a load-test error)
            results["errors"].append(f"client {n}: {type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - started
        if response.status_code in (429, 503) and "retry-after" in response.headers:
            results["busy"] += 1
            await asyncio.sleep(min(float(response.headers["retry-after"]), 5))
            continue
        if response.status_code != 200:
            results["errors"].append(f"client {n}: {response.status_code} {response.text[:200]}")
            continue
        body = response.json()
        results["latencies"].append(elapsed)
        quotes = " ".join(c["quote"] for c in body["citations"])
        if (
            body["refused"]
            or not contains_all(body["answer"], item["facts"])
            or not contains_all(quotes, item["facts"])
        ):
            results["suspects"].append((n, item, list(history[-4:]), body["answer"]))
        else:
            results["ok"] += 1
        history += [{"role": "user", "content": item["question"]}, {"role": "assistant", "content": body["answer"]}]


async def load_test(url, api_key, clients, duration, max_requests, question_file, max_replays=50) -> dict:
    import httpx

    items = [
        q for q in load_questions(question_file) if q.get("answerable") and not q.get("history") and q.get("facts")
    ]
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600, limits=limits) as client:
        questions = await calibrate(client, items)
        if len(questions) < 2:
            raise SystemExit("calibration kept fewer than 2 questions; is the brief indexed?")
        results = {
            "ok": 0,
            "busy": 0,
            "errors": [],
            "mixed": [],
            "suspects": [],
            "history_dependent": [],
            "latencies": [],
        }
        budget = {"left": max_requests}
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(*(run_client(n, client, questions, deadline, budget, results) for n in range(clients)))
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
    lat = results["latencies"]
    return {
        "clients": clients,
        "duration_s": round(wall, 1),
        "questions_used": len(questions),
        "answers": len(lat),
        "correct": results["ok"],
        "busy_429_503": results["busy"],
        "errors": len(results["errors"]),
        "mixed_up": len(results["mixed"]),
        "without_facts_but_same_when_asked_alone": len(results["history_dependent"]),
        "without_facts_not_replayed": unchecked,
        "throughput_per_s": round(len(lat) / wall, 2) if wall else 0,
        "latency_median_s": round(statistics.median(lat), 2) if lat else None,
        "latency_p95_s": round(percentile(lat, 0.95), 2) if lat else None,
        "error_samples": results["errors"][:5],
        "mixed_samples": results["mixed"][:5],
        "history_dependent_samples": results["history_dependent"][:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=os.environ.get("BRIEF_API_KEY"))
    parser.add_argument("--spawn", action="store_true", help="start a server for the run (on a free port)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    if not args.url and not args.spawn:
        parser.error("give --url or --spawn")
    run = lambda url, key: asyncio.run(  # noqa: E731
        load_test(url, key, args.clients, args.duration, args.max_requests, args.questions)
    )
    if args.spawn:
        with spawned_server() as (url, key):
            report = run(url, key)
    else:
        report = run(args.url, args.api_key)
    print(json.dumps(report, indent=2))
    return 1 if report["errors"] or report["mixed_up"] or report["without_facts_not_replayed"] else 0


if __name__ == "__main__":
    sys.exit(main())
