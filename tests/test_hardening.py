"""Issue 22, hardening round two: one regression test per item, against real parts (the real embedder, Chroma,
local model, and the whole `brief serve` app on loopback). The bad-input table of item 2 is test_bad_input.py.

1. A question racing a delete is no 500, and a 500 does not drop the client's keep-alive connection.
3. Distinct upload names stay distinct documents; an upload replaces one only under the same name.
4. Quotes are exact: a NUL after the first 8 KB is refused, and every stored sentence's quote is its text.
5. Nothing of the server is shown: no absolute paths, no raw exception text.
6. /login backs off, HEAD answers on the health routes, the chat's routes answer errors in the error shape.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support import (
    MODEL_QUESTION,
    QUESTION,
    ROOT,
    UvicornThread,
    chat_fn_index,
    gradio_event,
    indexed_settings,
    run_brief,
    wait_for_http,
)

PASSWORD = "hardening-secret-7"
BEARER = {"Authorization": f"Bearer {PASSWORD}"}

pytestmark = pytest.mark.slow  # real servers on loopback, kills and races


# Fixtures: the brief copied into a folder outside the working directory and indexed into a data dir outside it
# too (where the server's absolute paths used to show), one Assistant, apps served over it ----------------------
@pytest.fixture(scope="module")
def library(tmp_path_factory):
    base = tmp_path_factory.mktemp("hardening")
    shutil.copytree(ROOT / "seeds", base / "library")
    settings = indexed_settings(base / "data", seeds=base / "library", prefill_sentences=0, max_document_bytes=1 << 20)
    return base, settings


@pytest.fixture(scope="module")
def assistant(library):
    from assistant import Assistant

    return Assistant(library[1])


@contextlib.contextmanager
def serving(assistant, **secrets):
    from shells.server import build_server_app

    app = build_server_app(assistant, assistant.settings, **secrets)
    with UvicornThread(app) as running:
        wait_for_http(running.url + "/readyz", timeout=120)
        yield running.url


@pytest.fixture(scope="module")
def server(assistant):
    with serving(assistant, password=PASSWORD) as url:
        yield url


@contextlib.contextmanager
def logged_in(url: str):
    """A client with the secret for /api and /v1 and the chat's login cookie for its routes."""
    with httpx.Client(base_url=url, headers=BEARER, timeout=180) as client:
        response = client.post("/login", data={"username": "brief", "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


def error_message(response: httpx.Response) -> str:
    body = response.json()
    assert set(body["error"]) == {"message", "type"}, body
    assert "Traceback" not in response.text
    return body["error"]["message"]


def listing(client: httpx.Client) -> dict[str, str]:
    return {d["id"]: d["source"] for d in client.get("/api/documents").json()["documents"]}


# 1. A question racing a delete ----------------------------------------------------------------------------------
def test_a_search_racing_a_removal_is_no_error(tmp_path):
    """Chroma returns a sentence deleted while it searched as its id with no metadata or text: under load, a
    question racing a delete ended in a 500 (`meta.get` on None). Real Chroma: one thread commits and removes
    documents whose vectors lie next to the query's while two others search (before the fix about one search
    in twenty failed)."""
    import numpy as np

    from assistant import load_settings
    from index.pipeline import open_store
    from index.store import ManifestEntry
    from kernel.types import Chunk

    settings = load_settings(data_dir=str(tmp_path / "race"))
    writer, reader = open_store(settings), open_store(settings)
    rng = np.random.default_rng(22)
    query = rng.normal(size=writer.identity["embedding_dim"]).astype(np.float32)
    query /= np.linalg.norm(query)
    errors, searches = [], []
    stop = time.monotonic() + 12

    def churn():
        for n in range(1_000_000):
            if time.monotonic() > stop:
                return
            path, doc_hash = f"/race/doc-{n}.txt", f"hash-{n}"
            chunks = [
                Chunk(id=f"{n}-{i}", text="Sentence.", source=path, start=0, end=9, position=i, doc_hash=doc_hash)
                for i in range(100)
            ]
            vectors = query + rng.normal(scale=0.01, size=(100, len(query))).astype(np.float32)
            writer.add_chunks(chunks, path, vectors)
            writer.commit_document(
                ManifestEntry(path, f"doc-{n}.txt", doc_hash, 100, "text", time.time(), "Sentence 0.")
            )
            writer.remove_document(path)

    def search():
        while time.monotonic() < stop:
            try:
                reader.query(query.tolist(), 20)
            except Exception as exc:  # noqa: BLE001 (what the test counts)
                errors.append(f"{type(exc).__name__}: {exc}")
            searches.append(1)

    threads = [threading.Thread(target=churn), threading.Thread(target=search), threading.Thread(target=search)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(searches) > 20, (errors[:3], len(searches))


def test_a_hit_without_metadata_is_skipped(assistant):
    """The same race made certain: Chroma's answer for a sentence deleted mid-search (its id, no metadata, no
    text) is left out, and the rest is answered."""
    store = assistant.store
    real = store.chunks

    class Racing:
        def __getattr__(self, name):
            return getattr(real, name)

        def query(self, **kwargs):
            got = real.query(**kwargs)
            got["metadatas"][0][0] = None
            got["documents"][0][0] = None
            return got

    vector = assistant.embeddings.embed_query(QUESTION)
    whole = [c.id for c, _ in store.query(vector, 6)]
    store.chunks = Racing()
    try:
        hits = [c.id for c, _ in store.query(vector, 5)]
    finally:
        store.chunks = real
    assert hits == whole[1:]  # the nearest came back deleted


def http_exchange(sock: socket.socket, method: str, path: str) -> tuple[int, bytes]:
    """One request on an open keep-alive connection: (status, body). ConnectionError if the server closed it."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {PASSWORD}\r\n\r\n"
    sock.sendall(head.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("the server closed the connection")
        data += more
    header, _, body = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        more = sock.recv(65536)
        if not more:
            raise ConnectionError("the server closed the connection mid-body")
        body += more
    return int(lines[0].split()[1]), body


def test_an_unexpected_error_is_a_json_500_that_keeps_the_connection(server, assistant, monkeypatch):
    """A 500 used to reset the keep-alive connection (uvicorn drops it when the app re-raises after answering),
    so the client's next request failed too. Now: the JSON 500 without details, and the connection serves on."""

    def broken():
        raise RuntimeError("boom in /srv/brief/secret.db")

    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        monkeypatch.setattr(assistant.documents, "entries", broken)
        status, body = http_exchange(sock, "GET", "/api/documents")
        assert status == 500
        assert json.loads(body) == {
            "error": {"message": "internal server error; see the server log", "type": "internal_error"}
        }
        monkeypatch.undo()
        status, body = http_exchange(sock, "GET", "/api/documents")
        assert status == 200 and json.loads(body)["documents"]


def test_the_load_test_fails_on_any_5xx_reset_or_mix_up():
    """The script's own verdict, run where the script runs (scripts are run, not imported by the tests)."""
    check = """
import json, sys
from load_test import failures
clean = {"errors": 0, "responses_5xx": 0, "connection_resets": 0, "mixed_up": 0,
         "without_facts_not_replayed": 0, "server_rss_growth": 0.01}
verdicts = {key: failures(clean | {key: 1}, 0.10) for key in ("responses_5xx", "connection_resets", "mixed_up")}
print(json.dumps({"clean": failures(clean, 0.10), **verdicts}))
"""
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT / "scripts" / "bench", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    assert verdicts.pop("clean") == []
    assert verdicts == {key: [f"1 {key}"] for key in verdicts} and len(verdicts) == 3


# 3. Distinct names stay distinct documents ---------------------------------------------------------------------
def test_distinct_upload_names_stay_distinct_documents(server, assistant):
    """'报告.txt' and '文件.txt' both became 'document.txt', and names were cut at 90 characters, so the second
    upload silently replaced the first. Each distinct name is its own document; the same name replaces it."""
    long = "Quarterly report on the northern district water supply and the repairs planned for it " * 2
    names = ["报告.txt", "文件.txt", "😀.txt", "😎.txt", "a b.txt", "a_b.txt", long + "one.txt", long + "two.txt"]
    with logged_in(server) as client:
        before = listing(client)
        ids = {}
        for n, name in enumerate(names):
            text = f"Document {n} says the Varlund canal is {100 + n} km long.\n"
            response = client.post("/api/documents", files={"file": (name, text.encode(), "text/plain")})
            assert response.status_code == 201, (name, response.text)
            ids[name] = response.json()["id"]
        assert len(set(ids.values())) == len(names)
        now = listing(client)
        assert set(now) == set(before) | set(ids.values())
        saved = sorted(p.name for p in Path(assistant.settings.store.uploads_dir).iterdir())
        assert len(saved) == len(names) and "报告.txt" in saved and "文件.txt" in saved
        texts = {p.read_text() for p in Path(assistant.settings.store.uploads_dir).iterdir()}
        assert len(texts) == len(names)  # nothing was overwritten
        # The same name again is a replacement: the same document, its new text.
        response = client.post("/api/documents", files={"file": ("报告.txt", b"The canal is dry.\n")})
        assert response.status_code == 201 and response.json()["id"] == ids["报告.txt"]
        assert set(listing(client)) == set(now)
        for doc_id in ids.values():
            assert client.delete(f"/api/documents/{doc_id}").status_code == 204
        assert listing(client) == before


# 4. Exact quotes ------------------------------------------------------------------------------------------------
def test_a_nul_after_the_first_8_kb_is_refused(server, tmp_path):
    """The binary check read only the first 8 KB; a NUL later was accepted and cut quotes at the NUL (SQLite's
    `substr`) while their offsets ran on. It is refused like one in the first 8 KB, at every door that indexes."""
    data = ("The Ostrava weir holds back the spring floods. " * 200).encode() + b"\x00" + b" More text follows.\n"
    assert data.index(0) > 8192
    with logged_in(server) as client:
        before = listing(client)
        response = client.post("/api/documents", files={"file": ("late-nul.txt", data, "text/plain")})
        assert response.status_code == 400 and "binary" in error_message(response)
        assert listing(client) == before
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "late-nul.txt").write_bytes(data)
    (tmp_path / "docs" / "fine.txt").write_text("The Ostrava weir is old. It was built in 1903.\n")
    result = run_brief("index", "docs", "--quiet", cwd=tmp_path)
    assert result.returncode == 1 and "late-nul.txt: looks like a binary file" in result.stderr
    assert "Traceback" not in result.stderr and "1 added" in result.stdout  # the run went on


def test_every_quote_is_its_text(tmp_path):
    """`quote == text[start:end]` for every stored sentence, across scripts and astral characters, and for a
    text that holds a NUL (texts indexed without a file, like SQuAD paragraphs, are not checked for one)."""
    from assistant import load_settings
    from assistant.retrieval import make_retriever
    from index.pipeline import index_paths, index_texts, open_store

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "seeds" / "us-mali-reengagement-brief.txt", docs)
    (docs / "scripts.md").write_text(
        "# Notes 😀\n\nThe café in Zürich opened in 1903. 東京の会議は三日間続いた。 Ελληνικά κείμενα εδώ. "
        "The 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 river 🌊 runs 42 km. हिन्दी में एक वाक्य है। The end.\n",
        encoding="utf-8",
    )
    settings = load_settings(data_dir=str(tmp_path / "data"))
    assert index_paths([docs], settings, progress=False).errors == []
    with_nul = "First sentence here. A NUL \x00 sits in this one. The last sentence is after it."
    assert index_texts([("squad/with-nul", with_nul)], settings, progress=False).errors == []
    store = open_store(settings)
    retriever = make_retriever(settings, store, embeddings=None)
    retriever.sync()
    texts = {entry.source: entry.text for entry in store.documents().values()}
    for name in ("us-mali-reengagement-brief.txt", "scripts.md"):  # a text file's text is the file
        (text,) = [text for source, text in texts.items() if source.endswith(f"docs/{name}")]
        assert text == (docs / name).read_text(encoding="utf-8")
    chunks = store.all_chunks()
    assert {c.source for c in chunks} == set(texts) and len(chunks) >= 20
    for chunk in chunks:
        assert retriever.lexical.quote(chunk.id) == texts[chunk.source][chunk.start : chunk.end], chunk


# 5. Nothing of the server is shown ------------------------------------------------------------------------------
def server_strings(library) -> list[str]:
    base, settings = library
    return [str(base), str(ROOT), str(Path(settings.store.data_dir).resolve())]


def shows_nothing_of_the_server(text: str, library) -> None:
    for secret in server_strings(library):
        assert secret not in text, (secret, text[:2000])
    assert "Traceback" not in text


def test_sources_name_no_server_path(server, library):
    """Sources were absolute server paths (in /api/documents, citations and the chat's panels) whenever the
    library or the data dir lay outside the working directory. Now they are relative to the indexed folder's
    parent ('library/…') or to the data dir ('uploads/…')."""
    with logged_in(server) as client:
        response = client.post(
            "/api/documents", files={"file": ("harbour notes.md", b"# Harbour\n\nThe Quell harbour has 12 cranes.\n")}
        )
        assert response.status_code == 201, response.text
        uploaded = response.json()
        try:
            sources = sorted(listing(client).values())
            assert sources == ["library/us-mali-reengagement-brief.txt", "uploads/harbour_notes.md"]
            answer = client.post("/api/ask", json={"question": QUESTION})
            assert answer.json()["citations"] and all(
                c["source"] == "library/us-mali-reengagement-brief.txt" for c in answer.json()["citations"]
            )
            body = {"messages": [{"role": "user", "content": "How many cranes does the Quell harbour have?"}]}
            completion = client.post("/v1/chat/completions", json=body)
            assert completion.json()["citations"][0]["source"] == "uploads/harbour_notes.md", completion.text
            config = client.get("/config").json()
            # The chat: the question's event (the answer, the Sources and the Everything-retrieved panels) and
            # the Documents panel with its list of documents to remove.
            asked = gradio_event(
                client, chat_fn_index(config, "question", "submit"), [QUESTION, [], None, None], uuid.uuid4().hex
            )
            assert asked[-1]["success"], asked[-1]
            assert "library/us-mali-reengagement-brief.txt" in json.dumps(asked[-1]["output"])
            (load,) = [d["id"] for d in config["dependencies"] if d["targets"] and d["targets"][0][1] == "load"]
            shown = gradio_event(client, load, [], uuid.uuid4().hex)
            assert "uploads/harbour_notes.md" in json.dumps(shown[-1]["output"], ensure_ascii=False)
            for text in (
                client.get("/api/documents").text,
                answer.text,
                completion.text,
                json.dumps(asked),
                json.dumps(shown),
            ):
                shows_nothing_of_the_server(text, library)
        finally:
            client.delete(f"/api/documents/{uploaded['id']}")


def test_the_chat_shows_one_plain_message_for_a_failure(server, assistant, library, monkeypatch):
    """The chat showed raw exception text (pypdf's, a RecursionError's, a TypeError's) and Gradio's 'Cannot move
    /…/README.md'. Now: a plain message, the details in the server log."""
    with logged_in(server) as client:
        config = client.get("/config").json()
        # A made-up file record naming a file on the server: refused without naming it.
        forged = {"path": str(ROOT / "README.md"), "orig_name": "README.md", "meta": {"_type": "gradio.FileData"}}
        refused = gradio_event(client, chat_fn_index(config, "upload", "upload"), [forged], uuid.uuid4().hex)
        assert refused[-1]["success"] is False
        shows_nothing_of_the_server(json.dumps(refused), library)
        assert "Cannot move" not in json.dumps(refused)

        # A failure inside answering: the chat says so plainly, the exception's text stays in the log.
        def broken(*args, **kwargs):
            raise TypeError(f"TextEncodeInput must be Union[TextInputSequence] (at {ROOT}/kernel/embedder.py)")

        monkeypatch.setattr(assistant, "ask_stream", broken)
        asked = gradio_event(
            client, chat_fn_index(config, "question", "submit"), [QUESTION, [], None, None], uuid.uuid4().hex
        )
        output = json.dumps(asked[-1]["output"])
        assert "Something went wrong on the server while answering" in output
        assert "TextEncodeInput" not in output
        shows_nothing_of_the_server(json.dumps(asked), library)
        (ask,) = [d["id"] for d in config["dependencies"] if d.get("api_name") == "ask"]
        called = gradio_event(client, ask, [MODEL_QUESTION, ""], uuid.uuid4().hex)
        assert "Something went wrong on the server while answering" in called[-1]["output"]["error"]
        assert "TextEncodeInput" not in json.dumps(called)


def test_model_and_store_failures_name_no_server_path(assistant, library, monkeypatch):
    """A 503's reason (a model file or the data dir that cannot be used) names files by their last part only."""
    from index.store import StoreError
    from shells.api import create_api

    def broken(*args, **kwargs):
        raise StoreError(f"the vector index in {library[1].store.data_dir.resolve()} cannot be searched")

    with UvicornThread(create_api(assistant, assistant.settings)) as running:
        monkeypatch.setattr(assistant, "ask_stream", broken)
        response = httpx.post(running.url + "/api/ask", json={"question": QUESTION}, timeout=60)
    assert response.status_code == 503 and "cannot be searched" in error_message(response)
    shows_nothing_of_the_server(response.text, library)


# 6. Smaller doors -----------------------------------------------------------------------------------------------
def test_login_backs_off_after_repeated_wrong_secrets(assistant):
    """30 wrong guesses in a row were all answered at once. Now each client may guess wrong 5 times; after that
    it waits (1 s, then twice as long each time) and is answered 429 with Retry-After meanwhile, without its
    guess being tried; the right secret after the wait logs in and clears the record."""
    with serving(assistant, password=PASSWORD) as url:

        def login(secret: str) -> httpx.Response:
            return httpx.post(url + "/login", data={"username": "brief", "password": secret}, timeout=30)

        statuses = [login(f"guess-{n}").status_code for n in range(6)]
        assert statuses == [400] * 6
        locked = login(PASSWORD)  # even the right secret waits its turn
        assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
        assert "try again in 1 s" in error_message(locked)
        time.sleep(1.2)
        assert login("guess-6").status_code == 400
        locked = login(PASSWORD)
        assert locked.status_code == 429 and locked.headers["Retry-After"] == "2"
        time.sleep(2.2)
        assert login(PASSWORD).status_code == 200
        assert [login(f"guess-{n}").status_code for n in range(5)] == [400] * 5  # the record was cleared


def test_head_answers_on_the_health_routes(server):
    """HEAD /healthz was 404 (the chat mounted at "/" answered it); it answers as GET does, without a body."""
    for path in ("/healthz", "/readyz"):
        head, get = httpx.head(server + path), httpx.get(server + path)
        assert head.status_code == get.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


def test_the_chats_routes_answer_errors_in_the_error_shape(server):
    """Gradio's routes answered errors as {"detail": …}; they carry the documented {"error": {…}} too (beside
    "detail", which Gradio's page and gradio_client read)."""
    with logged_in(server) as client:
        for method, path, body, status in [
            ("GET", "/gradio_api/no-such-route", None, 404),
            ("POST", "/gradio_api/queue/join", {"no": "data"}, 422),
            ("GET", "/gradio_api/file=/etc/passwd", None, 403),
            ("GET", "/gradio_api/queue/data", None, 422),
        ]:
            response = client.request(method, path, json=body)
            assert response.status_code == status, (path, response.text)
            assert response.json()["error"]["message"] and response.json()["error"]["type"], response.text
        wrong = httpx.post(server + "/login", data={"username": "brief", "password": "wrong"})
        assert wrong.status_code == 400 and wrong.json()["error"]["message"] == "Incorrect credentials."
