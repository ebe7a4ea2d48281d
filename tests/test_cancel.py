"""A client that drops a streamed answer frees the model: the local model stops generating at its next token,
and a request still waiting for the model is skipped. Real server on loopback, real local model; what a
dropped stream cost is read from llama.cpp's own count of generated tokens, not from the clock."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.support import MODEL_QUESTION, UvicornThread, api_fn_index, indexed_settings, wait_for_http

pytestmark = pytest.mark.slow  # real server, and each drop waits for the model to settle

DROPPED = 4  # streams opened and dropped at each door
# Each dropped stream may cost the tokens written before the drop is seen (one read, one in flight); without
# cancellation each writes its whole answer (~20-64 tokens).
TOKENS_PER_DROP = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from assistant import Assistant
    from shells.server import build_server_app

    settings = indexed_settings(tmp_path_factory.mktemp("cancel"))
    assistant = Assistant(settings)
    app = build_server_app(assistant, settings)
    with UvicornThread(app) as running:
        wait_for_http(running.url + "/readyz", timeout=120)
        yield running.url, assistant, app.state.brief


def settled(assistant, state, quiet_s: float = 3, timeout: float = 180) -> int:
    """llama.cpp's generated-token count once the model has been idle (no request running or waiting, the
    count unchanged) for `quiet_s`: a dropped request that was still to start has had its chance to."""
    deadline = time.monotonic() + timeout
    count, quiet_since = -1, time.monotonic()
    while True:
        assert time.monotonic() < deadline, "the dropped requests never finished"
        busy = state.pending or assistant.chat_model._lock.locked()
        now = assistant.chat_model.tokens_generated
        if busy or now != count:
            count, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return count
        time.sleep(0.1)


def first_line_then_drop(client: httpx.Client, method: str, path: str, body: dict, wanted: str) -> None:
    with client.stream(method, path, json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if wanted in line:
                break  # leaving the block closes the connection mid-answer


def assert_fresh_question_is_answered(url: str) -> None:
    body = httpx.post(url + "/api/ask", json={"question": MODEL_QUESTION}, timeout=120).json()
    assert not body["refused"] and body["citations"]


@pytest.mark.parametrize(
    ("path", "body", "wanted"),
    [
        ("/api/ask/stream", {"question": MODEL_QUESTION}, "event: token"),
        (
            "/v1/chat/completions",
            {"model": "brief", "stream": True, "messages": [{"role": "user", "content": MODEL_QUESTION}]},
            '"role": "assistant"',
        ),
    ],
    ids=["api-stream", "v1-stream"],
)
def test_dropped_api_streams_stop_generating(server, path, body, wanted):
    url, assistant, state = server
    before = settled(assistant, state)
    clients = [httpx.Client(base_url=url, timeout=120) for _ in range(DROPPED)]
    try:
        for client in clients:
            first_line_then_drop(client, "POST", path, body, wanted)
    finally:
        for client in clients:
            client.close()
    spent = settled(assistant, state) - before
    assert spent <= DROPPED * TOKENS_PER_DROP, f"{spent} tokens generated for {DROPPED} dropped streams"
    assert_fresh_question_is_answered(url)


def test_a_dropped_chat_stream_stops_generating(server):
    """The chat's streamed answer, run as its page runs it (queue/join, then the queue/data stream), with
    the connection dropped after the first partial answer."""
    url, assistant, state = server
    before = settled(assistant, state)
    for _ in range(DROPPED):
        with httpx.Client(base_url=url, timeout=120) as client:
            fn_index = api_fn_index(client.get("/config").json(), "ask_stream")
            session = uuid.uuid4().hex
            data = {"data": [MODEL_QUESTION, "[]"], "fn_index": fn_index, "session_hash": session}
            assert client.post("/gradio_api/queue/join", json=data).status_code == 200
            with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_generating":
                        break
    spent = settled(assistant, state) - before
    assert spent <= DROPPED * TOKENS_PER_DROP, f"{spent} tokens generated for {DROPPED} dropped chat streams"
    assert_fresh_question_is_answered(url)
