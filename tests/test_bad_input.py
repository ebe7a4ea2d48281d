"""Issue 22's bad-input table: each hostile input at every door that takes it (the `brief` command line, /api,
/v1, and the web chat's Gradio routes), against the real app on loopback and the real CLI in a subprocess.
Each gives a 4xx (the chat's events: an error event or a refusal in its status), or exit 2 (`brief index`:
exit 1, as for any run with files that failed, while the run goes on), one clear message, no traceback, and
nothing lost: the documents are the same afterwards and the brief is still answered.

| input              | CLI                        | /api               | /v1     | Gradio              |
| surrogate          | --history file             | ask, stream        | both    | /ask, /ask_stream   |
| bad argv bytes     | `ask $'…\\xff…'`           | body bytes         | same    | body bytes          |
| PDF bomb           | `index` (run goes on)      | upload             |         | chat upload         |
| nested JSON        | --history file             | history            | messages| /ask history, body  |
| NUL after 8 KB     | `index` (run goes on)      | upload             |         | chat upload         |
| colliding names    | `index` (both kept)        | uploads (both kept)|         | chat uploads (both) |
| 1 MB question      | 128 KiB argument (the most | ask, stream: 413   | 413     | call, queue: 413    |
|                    | Linux passes in one)       |                    |         |                     |
| 10,000 turns       | --history file             | ask                | messages| /ask history        |
"""

from __future__ import annotations

import io
import json
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import QUESTION, chat_fn_index, gradio_event, indexed_settings, run_brief, served

pytestmark = pytest.mark.slow  # the whole app on loopback and the CLI in subprocesses


SURROGATE = "What is \\ud800 Mali?"  # as it arrives in JSON: the escape of a lone surrogate
NOT_TEXT = "is not valid text: character 8 is U+D800, a lone surrogate"
MANY = [{"role": "user", "content": "Tell me about Mali."}, {"role": "assistant", "content": "It is in Africa."}] * 5000
TOO_MANY = "the history has 10000 turns; the limit is 50"
NESTED = "[" * 100_000 + "]" * 100_000
LATE_NUL = ("The Ostrava weir holds back the spring floods. " * 200).encode() + b"\x00 More text.\n"
NAMES = {"报告.txt": "The Varlund canal is 41 km long.\n", "文件.txt": "The Varlund bridge is 230 m long.\n"}
UNREADABLE_BODY = "the request body could not be read as JSON"


def pdf_bomb(inflated_mib: int = 200) -> bytes:
    """A one-page PDF of about 200 KB whose content stream inflates to `inflated_mib` MiB (past pypdf's 75 MB)."""
    packer = zlib.compressobj(9)
    line = b"BT /F1 12 Tf 72 720 Td (Mali) Tj ET\n"
    chunk = (line * ((1 << 20) // len(line) + 1))[: 1 << 20]
    stream = b"".join(packer.compress(b" " * (1 << 20) if n else chunk) for n in range(inflated_mib)) + packer.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, io.SEEK_END)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


BOMB = pdf_bomb()


@dataclass
class Outcome:
    """What one door answered: an exit code or HTTP status (or "event" for a chat event), its one message, and
    everything it printed or sent."""

    code: int | str
    message: str
    text: str


# The app, its chat's events, and what must not be lost -------------------------------------------------------
@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = indexed_settings(tmp_path_factory.mktemp("bad-input"), prefill_sentences=0, max_document_bytes=1 << 20)
    with served(settings) as (url, assistant), httpx.Client(base_url=url, timeout=300) as client:
        config = client.get("/config").json()
        yield client, config, assistant


def documents(client) -> list[dict]:
    return client.get("/api/documents").json()["documents"]


def api_outcome(response: httpx.Response) -> Outcome:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}, body
    return Outcome(response.status_code, body["error"]["message"], response.text)


def post(client, path: str, body: bytes | str | dict) -> Outcome:
    if isinstance(body, dict):
        return api_outcome(client.post(path, json=body))
    content = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return api_outcome(client.post(path, content=content, headers={"Content-Type": "application/json"}))


def gradio_call(client, api_name: str, body: bytes | str | dict) -> Outcome:
    """The chat's API (POST /gradio_api/call/NAME, then its event stream): the error event's message, or the
    4xx the route answered in the error shape."""
    content = json.dumps(body) if isinstance(body, dict) else body
    content = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    started = client.post(f"/gradio_api/call/{api_name}", content=content, headers={"Content-Type": "application/json"})
    if started.status_code != 200:
        body = started.json()
        assert body["error"]["message"] and body["error"]["type"], body
        return Outcome(started.status_code, body["error"]["message"], started.text)
    stream = client.get(f"/gradio_api/call/{api_name}/{started.json()['event_id']}")
    lines = stream.text.splitlines()
    assert "event: error" in lines, stream.text
    data = json.loads(lines[lines.index("event: error") + 1].removeprefix("data: "))
    return Outcome("event", data["error"] or "", stream.text)


def chat_upload(client, config, name: str, data: bytes) -> Outcome:
    """The chat's Documents panel as the page uses it: Gradio's upload route, then the upload event; its status."""
    (received,) = client.post("/gradio_api/upload", files={"files": (name, data)}).json()
    file = {"path": received, "orig_name": name, "meta": {"_type": "gradio.FileData"}}
    messages = gradio_event(client, chat_fn_index(config, "upload", "upload"), [file], uuid.uuid4().hex)
    assert messages[-1]["success"], messages[-1]
    status = messages[-1]["output"]["data"][0]
    return Outcome("event", status, json.dumps(messages, ensure_ascii=False))


def cli_outcome(result) -> Outcome:
    errors = [line for line in result.stderr.splitlines() if line.startswith("brief: error:")]
    return Outcome(result.returncode, " | ".join(errors), result.stdout + result.stderr)


# The doors ------------------------------------------------------------------------------------------------------
def cli(case: str, workspace: Path, tmp: Path) -> list[Outcome]:
    def history(turns) -> str:
        path = tmp / "history.json"
        path.write_bytes(
            turns.encode("utf-8", "surrogatepass") if isinstance(turns, str) else json.dumps(turns).encode()
        )
        return str(path)

    def index(files: dict[str, bytes]) -> Outcome:
        (tmp / "docs").mkdir()
        for name, data in {**files, "fine.txt": b"The Ostrava weir is old. It was built in 1903.\n"}.items():
            (tmp / "docs" / name).write_bytes(data)
        return cli_outcome(run_brief("index", "docs", "--quiet", cwd=tmp))

    match case:
        case "surrogate":
            turns = f'[{{"role": "user", "content": "{SURROGATE}"}}]'
            return [cli_outcome(run_brief("ask", "Why?", "--history", history(turns), cwd=workspace))]
        case "argv_bytes":
            import os

            return [cli_outcome(run_brief("ask", os.fsdecode(b"What is \xff Mali?"), cwd=workspace))]
        case "pdf_bomb":
            return [index({"bomb.pdf": BOMB})]
        case "nested_json":
            return [cli_outcome(run_brief("ask", "Why?", "--history", history(NESTED), cwd=workspace))]
        case "late_nul":
            return [index({"late-nul.txt": LATE_NUL})]
        case "unicode_names":
            return [index({name: text.encode() for name, text in NAMES.items()})]
        case "huge_question":
            return [cli_outcome(run_brief("ask", "x" * (128 * 1024 - 1), cwd=workspace))]
        case "many_turns":
            return [cli_outcome(run_brief("ask", "Why?", "--history", history(MANY), cwd=workspace))]
    raise AssertionError(case)


def api(case: str, client, config) -> list[Outcome]:
    match case:
        case "surrogate":
            history = f'{{"question": "Why?", "history": [{{"role": "user", "content": "{SURROGATE}"}}]}}'
            return [
                post(client, "/api/ask", f'{{"question": "{SURROGATE}"}}'),
                post(client, "/api/ask/stream", f'{{"question": "{SURROGATE}"}}'),
                post(client, "/api/ask", history),
            ]
        case "argv_bytes":
            return [post(client, "/api/ask", b'{"question": "What is \xff Mali?"}')]
        case "pdf_bomb":
            return [api_outcome(client.post("/api/documents", files={"file": ("bomb.pdf", BOMB, "application/pdf")}))]
        case "nested_json":
            return [post(client, "/api/ask", f'{{"question": "Why?", "history": {NESTED}}}')]
        case "late_nul":
            return [api_outcome(client.post("/api/documents", files={"file": ("late-nul.txt", LATE_NUL)}))]
        case "unicode_names":
            added = [client.post("/api/documents", files={"file": (n, t.encode())}) for n, t in NAMES.items()]
            return [Outcome(r.status_code, r.json().get("source", ""), r.text) for r in added]
        case "huge_question":
            big = {"question": "Why? " * 210_000}  # 1 MB
            return [post(client, "/api/ask", big), post(client, "/api/ask/stream", big)]
        case "many_turns":
            return [post(client, "/api/ask", {"question": "Why?", "history": MANY})]
    raise AssertionError(case)


def v1(case: str, client, config) -> list[Outcome]:
    def chat(messages: str, stream: bool = False) -> str:
        return f'{{"model": "brief", "stream": {json.dumps(stream)}, "messages": {messages}}}'

    match case:
        case "surrogate":
            question = f'[{{"role": "user", "content": "{SURROGATE}"}}]'
            return [
                post(client, "/v1/chat/completions", chat(question)),
                post(client, "/v1/chat/completions", chat(question, True)),
            ]
        case "argv_bytes":
            return [
                post(
                    client,
                    "/v1/chat/completions",
                    chat('[{"role": "user", "content": "What is \xff Mali?"}]').encode("latin-1"),
                )
            ]
        case "nested_json":
            return [post(client, "/v1/chat/completions", chat(NESTED))]
        case "huge_question":
            return [
                post(client, "/v1/chat/completions", {"messages": [{"role": "user", "content": "Why? " * 210_000}]})
            ]
        case "many_turns":
            return [post(client, "/v1/chat/completions", {"messages": [*MANY, {"role": "user", "content": "Why?"}]})]
    raise AssertionError(case)


def gradio(case: str, client, config) -> list[Outcome]:
    match case:
        case "surrogate":
            history = json.dumps([{"role": "user", "content": "What is \ud800 Mali?"}])  # its escape, in the string
            return [
                gradio_call(client, "ask", f'{{"data": ["{SURROGATE}", ""]}}'),
                gradio_call(client, "ask_stream", f'{{"data": ["{SURROGATE}", ""]}}'),
                gradio_call(client, "ask", {"data": ["Why?", history]}),
            ]
        case "argv_bytes":
            return [gradio_call(client, "ask", b'{"data": ["What is \xff Mali?", ""]}')]
        case "pdf_bomb":
            return [chat_upload(client, config, "bomb.pdf", BOMB)]
        case "nested_json":
            return [
                gradio_call(client, "ask", {"data": ["Why?", NESTED]}),
                gradio_call(client, "ask", f'{{"data": ["Why?", {NESTED}]}}'),
            ]
        case "late_nul":
            return [chat_upload(client, config, "late-nul.txt", LATE_NUL)]
        case "unicode_names":
            return [chat_upload(client, config, name, text.encode()) for name, text in NAMES.items()]
        case "huge_question":
            big = {"data": ["Why? " * 210_000, ""]}
            joined = client.post("/gradio_api/queue/join", json=big | {"fn_index": 0, "session_hash": "x"})
            return [gradio_call(client, "ask", big), api_outcome(joined)]
        case "many_turns":
            return [gradio_call(client, "ask", {"data": ["Why?", json.dumps(MANY)]})]
    raise AssertionError(case)


# What each answers ----------------------------------------------------------------------------------------------
EXPECTED = {  # (case, door): (the code, a phrase of the one message)
    ("surrogate", "cli"): (2, NOT_TEXT),
    ("surrogate", "api"): (400, NOT_TEXT),
    ("surrogate", "v1"): (400, NOT_TEXT),
    ("surrogate", "gradio"): ("event", NOT_TEXT),
    ("argv_bytes", "cli"): (2, "argument 2 is not UTF-8 text: b'What is \\xff Mali?'"),
    ("argv_bytes", "api"): (400, UNREADABLE_BODY),
    ("argv_bytes", "v1"): (400, UNREADABLE_BODY),
    ("argv_bytes", "gradio"): (400, UNREADABLE_BODY),
    ("pdf_bomb", "cli"): (1, "bomb.pdf: not a readable PDF (its content expands past the reader's size limits)"),
    ("pdf_bomb", "api"): (400, "bomb.pdf: not a readable PDF (its content expands past the reader's size limits)"),
    ("pdf_bomb", "gradio"): ("event", "Upload refused: bomb.pdf: not a readable PDF (its content expands past"),
    ("nested_json", "cli"): (2, "is nested too deeply to be a JSON list of turns"),
    ("nested_json", "api"): (400, UNREADABLE_BODY),
    ("nested_json", "v1"): (400, UNREADABLE_BODY),
    ("nested_json", "gradio"): (("event", 400), ("history is nested too deeply", UNREADABLE_BODY)),
    ("late_nul", "cli"): (1, "late-nul.txt: looks like a binary file, not text (a NUL byte at byte 9400)"),
    ("late_nul", "api"): (400, "late-nul.txt: looks like a binary file, not text (a NUL byte at byte 9400)"),
    ("late_nul", "gradio"): ("event", "Upload refused: late-nul.txt: looks like a binary file, not text"),
    ("huge_question", "cli"): (2, "the question is 131071 characters long; the limit is 1000"),
    ("huge_question", "api"): (413, "request body is larger than the limit of 1048576 bytes"),
    ("huge_question", "v1"): (413, "request body is larger than the limit of 1048576 bytes"),
    ("huge_question", "gradio"): (413, "request body is larger than the limit of 1048576 bytes"),
    ("many_turns", "cli"): (2, TOO_MANY),
    ("many_turns", "api"): (400, TOO_MANY),
    ("many_turns", "v1"): (400, TOO_MANY),
    ("many_turns", "gradio"): ("event", TOO_MANY),
}
CELLS = sorted({*EXPECTED, ("unicode_names", "cli"), ("unicode_names", "api"), ("unicode_names", "gradio")})


@pytest.mark.parametrize(("case", "door"), CELLS, ids=[f"{case}-{door}" for case, door in CELLS])
def test_bad_input_at_every_door(app, brief_workspace, tmp_path, case, door):
    client, config, assistant = app
    before = documents(client)
    uploads = Path(assistant.settings.store.uploads_dir)
    files_before = sorted(uploads.iterdir()) if uploads.exists() else []
    if door == "cli":
        outcomes = cli(case, brief_workspace, tmp_path)
    else:
        outcomes = {"api": api, "v1": v1, "gradio": gradio}[door](case, client, config)

    for outcome in outcomes:
        assert "Traceback" not in outcome.text and "RecursionError" not in outcome.text, outcome.text[-2000:]
    if case == "unicode_names":  # distinct names, distinct documents: both kept, then removed again
        if door == "cli":
            (outcome,) = outcomes
            assert outcome.code == 0 and "3 added" in outcome.text, outcome.text
        else:
            added = [d for d in documents(client) if d not in before]
            assert len(added) == 2 and {Path(d["source"]).name for d in added} == set(NAMES), added
            if door == "api":
                assert [o.code for o in outcomes] == [201, 201]
            else:
                assert all(o.message.startswith("Indexed ") for o in outcomes), [o.message for o in outcomes]
            for doc in added:
                assert client.delete(f"/api/documents/{doc['id']}").status_code == 204
    else:
        codes, phrases = EXPECTED[(case, door)]
        if not isinstance(codes, tuple):
            codes, phrases = (codes,) * len(outcomes), (phrases,) * len(outcomes)
        for outcome, code, phrase in zip(outcomes, codes, phrases, strict=True):
            assert outcome.code == code, (outcome.code, outcome.message, outcome.text[-1000:])
            assert phrase in outcome.message, (phrase, outcome.message)
            if door == "cli":  # one message: one error line, and nothing else on stderr but warnings
                assert outcome.message.count("brief: error:") == 1, outcome.text
                if code == 1:  # an index run with a bad file goes on with the others
                    assert "1 added" in outcome.text, outcome.text
    assert documents(client) == before  # nothing lost, nothing left behind
    assert (sorted(uploads.iterdir()) if uploads.exists() else []) == files_before


def test_the_brief_is_still_answered_after_the_table(app):
    client, _, _ = app
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    assert not answer["refused"] and "lithium" in answer["answer"].lower()
