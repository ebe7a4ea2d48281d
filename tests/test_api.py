"""The HTTP API served by uvicorn on a loopback port, with the real embedder, Chroma and local model: ask
(plain and streamed), documents (upload, list, delete), the OpenAI-compatible endpoints through the official
`openai` client, authentication, size limits, error shapes, readiness and queueing."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assistant import Final, Pipeline, Token
from tests.support import MODEL_QUESTION, QUESTION, UvicornThread, indexed_settings

KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
UPLOAD_LIMIT = 256 << 10

# (question, a word its answer must contain): each answered from a different sentence of the brief
DISTINCT = [
    (QUESTION, "lithium"),
    ("Which country has Mali shifted its security partnerships towards?", "russia"),
    ("What kind of government does Mali have?", "military"),
    ("Which alliance is Mali a significant player in?", "alliance of sahel states"),
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    from assistant import Assistant

    settings = indexed_settings(tmp_path_factory.mktemp("api") / ".brief", max_document_bytes=UPLOAD_LIMIT)
    a = Assistant(settings)
    a.warm_up()
    return a


@pytest.fixture(scope="module")
def server(assistant):
    from shells.api import create_api

    app = create_api(assistant, assistant.settings, api_key=KEY)
    with UvicornThread(app) as running:
        yield running


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=120) as client:
        yield client


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}, body
    assert "Traceback" not in response.text
    return body["error"]


# Health and readiness ----------------------------------------------------------------------------------
def test_health_and_ready_need_no_key(server):
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_not_ready_answers_503_until_marked_ready(assistant):
    from fastapi.testclient import TestClient

    from shells.api import create_api

    app = create_api(assistant, assistant.settings, ready=False)
    with TestClient(app) as client:
        for response in (client.get("/readyz"), client.post("/api/ask", json={"question": QUESTION})):
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert error_of(response)["type"] == "service_unavailable"
        app.state.brief.mark_ready()
        assert client.get("/readyz").status_code == 200


# Ask -----------------------------------------------------------------------------------------------------
def test_ask_returns_the_cli_json_shape_with_citations(http):
    response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"answer", "refused", "short_answer", "confidence", "citations", "timings", "mode"}
    assert 0 <= body["confidence"] <= 1
    assert not body["refused"] and body["citations"]
    assert "[1]" in body["answer"]
    quotes = " ".join(c["quote"] for c in body["citations"]).lower()
    assert "lithium" in quotes and "uranium" in quotes
    for c in body["citations"]:
        assert set(c) == {"marker", "source", "section", "quote", "start", "end", "score", "supported"}
        assert c["source"].endswith("us-mali-reengagement-brief.txt")


def test_ask_refuses_what_the_brief_does_not_say(http):
    body = http.post("/api/ask", json={"question": "What is the population of Mali?"}).json()
    assert body["refused"] and body["mode"] in ("closest", "refused") and body["short_answer"] == ""
    assert body["answer"].startswith("The documents do not")
    # 'closest' quotes and cites the passages it shows; a plain refusal cites nothing
    assert all(f"[{c['marker']}]" in body["answer"] for c in body["citations"])
    assert bool(body["citations"]) == (body["mode"] == "closest")


def test_ask_stream_sends_tokens_then_the_full_answer(http):
    events = []
    with http.stream("POST", "/api/ask/stream", json={"question": MODEL_QUESTION}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[len("data: ") :])))
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"token"} and len(kinds) > 2
    final = events[-1][1]
    assert not final["refused"] and "counterterrorism" in final["citations"][0]["quote"]


def test_bad_questions_are_400_or_422_with_a_json_error(http):
    cases = [
        ({"question": ""}, 400),
        ({"question": "   "}, 400),
        ({"question": "why " * 400}, 400),  # over max_question_chars
        ({}, 422),
        ({"question": 5}, 422),
        ({"question": "Why?", "history": [{"role": "robot", "content": "x"}]}, 422),
        ({"question": "Why?", "history": "not a list"}, 422),
    ]
    for body, status in cases:
        response = http.post("/api/ask", json=body)
        assert response.status_code == status, (body, response.text)
        assert error_of(response)["type"] == "invalid_request_error"
    response = http.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and error_of(response)


def test_concurrent_asks_with_their_own_histories_never_mix(http):
    """Eight requests at once (four questions, each twice with a different history): each answer is about its
    own question."""
    jobs = []
    for n, (question, word) in enumerate(DISTINCT * 2):
        history = [
            {"role": "user", "content": f"Tell me about topic number {n} of the brief"},
            {"role": "assistant", "content": f"Topic {n} is covered in the brief."},
        ]
        jobs.append((question, history, word))

    def run(job):
        question, history, word = job
        return word, http.post("/api/ask", json={"question": question, "history": history})

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(run, jobs))
    for word, response in results:
        assert response.status_code == 200, response.text
        body = response.json()
        assert word in body["answer"].lower(), (word, body["answer"])
        assert any(word in c["quote"].lower() for c in body["citations"]), (word, body["citations"])


def test_a_full_queue_answers_503_with_retry_after(assistant):
    from shells.api import Limits, create_api

    app = create_api(assistant, assistant.settings, limits=Limits(max_pending=1))
    with UvicornThread(app) as running:
        barrier = threading.Barrier(3)

        def run(_):
            barrier.wait()
            return httpx.post(running.url + "/api/ask", json={"question": QUESTION}, timeout=120)

        with ThreadPoolExecutor(3) as pool:
            responses = list(pool.map(run, range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["Retry-After"] and error_of(busy)["type"] == "overloaded"


# Authentication, limits, errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/ask"),
        ("POST", "/api/ask/stream"),
        ("GET", "/api/documents"),
        ("DELETE", "/api/documents/x"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_api_key_is_required(server, method, path, headers):
    response = httpx.request(method, server.url + path, headers=headers, json={"question": QUESTION})
    assert response.status_code == 401
    assert error_of(response)["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_bodies_over_the_limit_are_413(http):
    big = json.dumps({"question": "x" * (2 << 20)})
    response = http.post("/api/ask", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and error_of(response)["type"] == "request_too_large"

    def chunks():  # no Content-Length: counted while read
        for _ in range(40):
            yield b"x" * (64 << 10)

    response = http.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and error_of(response)


def test_unknown_routes_and_methods_are_json_errors(http):
    response = http.get("/api/nothing-here")
    assert response.status_code == 404 and error_of(response)["type"] == "not_found_error"
    response = http.put("/api/ask", json={})
    assert response.status_code == 405 and error_of(response)


def test_openapi_docs_are_served(server):
    assert httpx.get(server.url + "/docs").status_code == 401  # guarded like every route but health
    assert httpx.get(server.url + "/docs", headers=AUTH).status_code == 200
    paths = httpx.get(server.url + "/openapi.json", headers=AUTH).json()["paths"]
    assert {
        "/api/ask",
        "/api/ask/stream",
        "/api/documents",
        "/api/documents/{doc_id}",
        "/v1/chat/completions",
        "/v1/models",
        "/healthz",
        "/readyz",
    } <= set(paths)


def test_cors_is_closed_by_default(server):
    response = httpx.options(
        server.url + "/api/ask",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    response = httpx.get(server.url + "/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


# Documents ---------------------------------------------------------------------------------------------
def listing(http) -> list[dict]:
    response = http.get("/api/documents")
    assert response.status_code == 200
    return response.json()["documents"]


def uploads_of(assistant) -> list[str]:
    uploads = Path(assistant.settings.store.uploads_dir)
    return sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []


def test_documents_lists_the_brief(http):
    (doc,) = [d for d in listing(http) if d["source"].endswith("us-mali-reengagement-brief.txt")]
    assert doc["n_chunks"] > 5 and doc["kind"] == "text" and len(doc["id"]) == 12


def test_upload_ask_delete(http, assistant):
    text = (
        "# Zorblatia\n\nThe capital of Zorblatia is Quenzal City. Zorblatia exports purple copper to its neighbours.\n"
    )
    response = http.post(
        "/api/documents", files={"file": ("../../notes/zorblatia facts!.md", text.encode(), "text/markdown")}
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["kind"] == "markdown" and doc["n_chunks"] == 2
    saved = Path(assistant.settings.store.uploads_dir) / "zorblatia_facts.md"
    assert saved.read_text() == text  # basename, safe characters, inside uploads_dir
    assert doc["id"] in {d["id"] for d in listing(http)}

    answer = http.post("/api/ask", json={"question": "What is the capital of Zorblatia?"}).json()
    assert not answer["refused"] and "quenzal" in answer["answer"].lower()
    assert any(c["source"].endswith("zorblatia_facts.md") for c in answer["citations"])

    assert http.delete(f"/api/documents/{doc['id']}").status_code == 204
    assert doc["id"] not in {d["id"] for d in listing(http)} and not saved.exists()
    response = http.delete(f"/api/documents/{doc['id']}")
    assert response.status_code == 404 and error_of(response)["type"] == "not_found_error"


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("program.exe", b"MZ\x90\x00binary", 400),
        ("noextension", b"some text", 400),
        ("empty.txt", b"", 400),
        ("blank.md", b"   \n\n  ", 400),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, 400),
        ("latin1.txt", "caf\xe9 au lait. ".encode("latin-1") * 10, 400),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", 400),
        ("big.txt", b"A sentence about Mali. " * ((UPLOAD_LIMIT // 23) + 10), 413),  # over the upload limit
        ("huge.txt", b"A sentence about Mali. " * ((2 << 20) // 23), 413),  # over the body limit too
    ],
)
def test_failed_uploads_change_nothing(http, assistant, name, data, status):
    before_docs, before_files = listing(http), uploads_of(assistant)
    response = http.post("/api/documents", files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == status, response.text
    assert error_of(response)["message"]
    assert listing(http) == before_docs and uploads_of(assistant) == before_files


def test_upload_without_a_file_is_422(http):
    response = http.post("/api/documents", data={"other": "x"})
    assert response.status_code == 422 and error_of(response)


# OpenAI-compatible ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def openai_client(server):
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, timeout=120, max_retries=0)


def test_openai_models(openai_client):
    assert [m.id for m in openai_client.models.list()] == ["brief"]


def test_openai_chat_completion_with_citations(openai_client):
    completion = openai_client.chat.completions.create(
        model="brief",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}],
    )
    content = completion.choices[0].message.content
    assert "[1]" in content and "lithium" in content.lower()
    citations = completion.model_extra["citations"]
    assert citations and citations[0]["marker"] == 1
    assert completion.choices[0].finish_reason == "stop"


def test_openai_streamed_chat_completion(openai_client, http):
    stream = openai_client.chat.completions.create(
        model="brief",
        messages=[
            {"role": "user", "content": "What kind of government does Mali have?"},
            {"role": "assistant", "content": "A military-led government. [1]"},
            {"role": "user", "content": DISTINCT[1][0]},
        ],
        stream=True,
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    citations = chunks[-1].model_extra["citations"]
    assert "russia" in content.lower() and "[1]" in content and citations
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    # the raw stream ends with [DONE]
    with http.stream(
        "POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    ) as response:
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"


def test_openai_errors(openai_client, server):
    import openai

    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(
            model="brief", messages=[{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Hi"}]
        )
    assert "last message" in str(info.value)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0).models.list()


# The server: API + web chat ---------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_serve_refuses_a_non_loopback_host_without_a_secret(assistant, host, capsys):
    from shells.server import serve

    assert serve(assistant.settings, host=host, port=1) == 2
    assert "--api-key" in capsys.readouterr().err


def test_server_app_mounts_the_web_chat_beside_the_api(assistant):
    import time

    from shells.server import build_server_app

    app = build_server_app(assistant, assistant.settings, api_key=KEY)
    with UvicornThread(app) as running:
        deadline = time.monotonic() + 60
        while httpx.get(running.url + "/readyz").status_code != 200:  # warm-up runs in the background
            assert time.monotonic() < deadline
            time.sleep(0.2)
        page = httpx.get(running.url + "/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert httpx.get(running.url + "/api/documents").status_code == 401
        response = httpx.post(running.url + "/api/ask", json={"question": QUESTION}, headers=AUTH, timeout=120)
        assert response.status_code == 200 and response.json()["citations"]
        # with the chat mounted at "/", unknown API paths and wrong methods still answer in the error shape
        for method, path, status in [
            ("GET", "/api/nothing-here", 404),
            ("POST", "/v1/nothing/here", 404),
            ("PUT", "/api/ask", 405),
            ("GET", "/api/ask", 405),
        ]:
            response = httpx.request(method, running.url + path, headers=AUTH, json={})
            assert response.status_code == status, (method, path, response.text)
            assert error_of(response)["type"] == {404: "not_found_error", 405: "method_not_allowed"}[status]
        assert httpx.put(running.url + "/api/ask", headers=AUTH).headers["Allow"] == "POST"


# The same answers through every door --------------------------------------------------------------------------
SAME_ITEMS = ["a01", "a03", "f01", "u01", "u02"]  # answered, answered, follow-up, refused, refused


def test_library_api_and_openai_endpoint_give_the_same_answers(server, assistant):
    """The library, POST /api/ask and /v1/chat/completions (official `openai` client) answer a slice of the
    brief's question set identically (greedy decoding: same text, same citations), so they score the same."""
    from assistant.remote import ApiClient, OpenAIClient
    from tests.support import ROOT

    items = [json.loads(line) for line in (ROOT / "questions" / "brief.jsonl").read_text().splitlines() if line]
    items = [item for item in items if item["id"] in SAME_ITEMS]
    doors = {"api": ApiClient(server.url, KEY), "openai": OpenAIClient(server.url, KEY)}
    outcomes = set()
    for item in items:
        history = [{"role": "user", "content": h} for h in item["history"]]
        expected = assistant.ask(item["question"], history=history)
        outcomes.add(expected.refused)
        for name, door in doors.items():
            got = door.ask(item["question"], history=history)
            assert (got.answer, got.refused, got.mode, got.short_answer, got.confidence) == (
                expected.answer,
                expected.refused,
                expected.mode,
                expected.short_answer,
                expected.confidence,
            ), (name, item["id"])
            assert [c.model_dump() for c in got.citations] == [c.model_dump() for c in expected.citations]
            assert got.timings.total_s > 0, name  # the server's own timings come through both doors
            *tokens, final = door.ask_stream(item["question"], history=history)
            assert isinstance(final, Final) and all(isinstance(t, Token) for t in tokens), (name, item["id"])
            assert (final.answer.answer, final.answer.citations) == (expected.answer, expected.citations), name
    assert outcomes == {True, False}, "the slice covers both an answer and a refusal"
    assert all(isinstance(door, Pipeline) for door in [assistant, *doors.values()])


def test_remote_errors_are_clear(server):
    from assistant.remote import ApiClient, OpenAIClient, RemoteError

    with pytest.raises(RemoteError, match="401"):
        ApiClient(server.url, "wrong").ask(QUESTION)
    with pytest.raises(RemoteError, match="chat/completions"):
        OpenAIClient(server.url, "wrong").ask(QUESTION)
    with pytest.raises(RemoteError, match="cannot be reached"):
        ApiClient("http://127.0.0.1:9").ask(QUESTION)


def test_an_unreachable_model_endpoint_is_503_and_a_stream_error_event(tmp_path):
    """A remote backend with nothing listening: /api/ask answers 503 with Retry-After; the streams, whose 200
    has gone out, end with an error event carrying the same message; no stack trace anywhere."""
    from assistant import Assistant
    from shells.api import create_api

    settings = indexed_settings(
        tmp_path / ".brief", llm_backend="openai", llm_base_url="http://127.0.0.1:9/v1", llm_model_name="none"
    )
    with UvicornThread(create_api(Assistant(settings), settings)) as running:
        response = httpx.post(running.url + "/api/ask", json={"question": MODEL_QUESTION}, timeout=120)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert "127.0.0.1:9" in error_of(response)["message"]
        stream = httpx.post(running.url + "/api/ask/stream", json={"question": MODEL_QUESTION}, timeout=120)
        assert stream.status_code == 200 and "event: error" in stream.text and "Traceback" not in stream.text
        assert '"type"' in stream.text and "127.0.0.1:9" in stream.text
        body = {"model": "brief", "stream": True, "messages": [{"role": "user", "content": MODEL_QUESTION}]}
        completion = httpx.post(running.url + "/v1/chat/completions", json=body, timeout=120)
        assert "127.0.0.1:9" in completion.text and completion.text.rstrip().endswith("data: [DONE]")
