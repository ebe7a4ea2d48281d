"""The `brief` command line, run as a user runs it (real models, real store)."""

import json

import pytest

from tests.support import run_brief

pytestmark = pytest.mark.slow  # every test runs the `brief` command in a subprocess


def test_ask_json_has_the_documented_shape(brief_workspace):
    result = run_brief("ask", "Which critical minerals does Mali hold reserves of?", "--json", cwd=brief_workspace)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= {"answer", "refused", "citations", "timings", "short_answer", "confidence"}
    assert data["refused"] is False and "uranium" in data["answer"]
    assert 0 < data["confidence"] <= 1 and "uranium" in data["short_answer"]
    assert set(data["timings"]) >= {"retrieve_s", "generate_s", "total_s"}
    text = (brief_workspace / data["citations"][0]["source"]).read_text()
    for c in data["citations"]:
        assert set(c) >= {"marker", "source", "section", "quote", "start", "end", "score"}
        assert text[c["start"] : c["end"]] == c["quote"]


def test_ask_with_history_file(brief_workspace, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "What might future engagements between the U.S. and Mali involve?"},
                {"role": "assistant", "content": "Negotiations on security cooperation and economic partnerships."},
            ]
        )
    )
    result = run_brief(
        "ask", "In which sector in particular?", "--json", "--history", str(history), cwd=brief_workspace
    )
    assert result.returncode == 0 and "mining" in json.loads(result.stdout)["answer"]


def test_bad_questions_and_history_exit_2_without_traceback(brief_workspace, tmp_path):
    for args in (["ask", ""], ["ask", "x" * 5000]):
        result = run_brief(*args, cwd=brief_workspace)
        assert result.returncode == 2 and "brief: error:" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "h.json"
    bad.write_text('{"role": "user"}')
    result = run_brief("ask", "Why?", "--history", str(bad), cwd=brief_workspace)
    assert result.returncode == 2 and "history file" in result.stderr and "Traceback" not in result.stderr


def test_ask_before_indexing_says_what_to_do(tmp_path):
    result = run_brief("ask", "Anything?", cwd=tmp_path)
    assert result.returncode == 1 and "brief index" in result.stderr


def test_eval_writes_a_scored_report(brief_workspace, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(item)
            for item in [
                {
                    "id": "a",
                    "question": "Which critical minerals does Mali hold reserves of?",
                    "answerable": True,
                    "facts": ["lithium", "uranium"],
                    "gold_quotes": ["critical minerals like lithium and uranium"],
                },
                {"id": "u", "question": "What is Mali's population?", "answerable": False},
            ]
        )
    )
    result = run_brief(
        "eval", "--questions", str(questions), "--out", str(tmp_path / "out"), "--quiet", cwd=brief_workspace
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["answerable_correct"] == 1.0 and report["summary"]["unanswerable_refused"] == 1.0
    item = report["items"][0]
    assert set(item) >= {"id", "question", "answer", "refused", "citations", "latency_s", "scores"}
    assert "answerable correct" in result.stdout


def test_a_corrupt_pdf_gets_one_clear_message_and_no_pypdf_noise(tmp_path):
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    data = io.BytesIO()
    writer.write(data)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cut.pdf").write_bytes(data.getvalue()[:-30])  # truncated: no %%EOF marker
    result = run_brief("index", "docs", "--quiet", cwd=tmp_path)
    assert result.returncode == 1 and "not a readable PDF" in result.stderr
    assert "EOF marker not found" not in result.stderr  # pypdf's own warning goes to the log
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith("brief: ")
    ]


def test_history_limits_and_bad_history_files_exit_2_naming_the_file(brief_workspace, tmp_path):
    """The CLI applies the limits every door applies: a 400 KB turn is refused with the limit, not sent to
    the model (which failed with llama.cpp's raw context error); a binary file is named."""
    long_turn = tmp_path / "long.json"
    long_turn.write_text(json.dumps([{"role": "user", "content": "Tell me about Mali. " * 20_000}]))
    result = run_brief("ask", "Why?", "--history", str(long_turn), cwd=brief_workspace)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(long_turn) in result.stderr and "the limit is 1000" in result.stderr
    many = tmp_path / "many.json"
    many.write_text(json.dumps([{"role": "user", "content": "Hi"}] * 51))
    result = run_brief("ask", "Why?", "--history", str(many), cwd=brief_workspace)
    assert result.returncode == 2 and "the history has 51 turns; the limit is 50" in result.stderr
    binary = tmp_path / "history.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01binary\x89PNG" * 10)
    result = run_brief("ask", "Why?", "--history", str(binary), cwd=brief_workspace)
    assert result.returncode == 2 and str(binary) in result.stderr and "Traceback" not in result.stderr


def test_index_leaves_the_lexical_cache_in_sync_with_the_store(tmp_path):
    """`brief index` syncs the lexical cache, so the first question does not fetch every new document."""
    from assistant import load_settings
    from index.lexical import LexicalIndex, lexical_index_path
    from tests.support import BRIEF

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / BRIEF.name).write_text(BRIEF.read_text())
    result = run_brief("index", "docs", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    held = LexicalIndex(lexical_index_path(load_settings(data_dir=str(tmp_path / ".brief")).store)).versions()
    assert list(held) == [str((tmp_path / "docs" / BRIEF.name).resolve())]


def test_a_page_of_navigation_only_is_skipped_with_a_warning(tmp_path):
    """A manual's contents page holds nothing to quote once its navigation is dropped: a warning, not a failure."""
    from tests.support import BRIEF

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / BRIEF.name).write_text(BRIEF.read_text())
    (tmp_path / "docs" / "contents.html").write_text(
        "<html><head><title>Getting Started</title></head><body><h1>Chapter 1. Getting Started</h1>"
        "<div class='toc'><a href='a.html'>1.1. Installation</a></div></body></html>"
    )
    result = run_brief("index", "docs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "contents.html: skipped, no sentences to index" in result.stderr
    assert "1 added" in result.stdout
