"""Small pure parts of the web app: filename sanitising, history parsing, escaping, the loopback check."""

from __future__ import annotations

import pytest

from assistant import Answer, Chunk, Citation, Evidence
from index.documents import safe_filename
from shells.server import is_loopback
from ui.app import parse_history
from ui.render import chat_text, retrieved_html, sources_html


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\x\\brief notes!.MD", "brief_notes.md"),
        (".hidden.html", "hidden.html"),
        ("<script>.txt", "script.txt"),
        ("...", "document"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_parse_history():
    turns = parse_history('[{"role": "user", "content": "hi"}]')
    assert turns == [{"role": "user", "content": "hi"}]
    assert parse_history(None) == [] and parse_history("") == []
    with pytest.raises(Exception, match="history"):
        parse_history('[{"role": "system", "content": "x"}]')


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_markup_is_escaped():
    payload = '<img src=x onerror="window.__pwned=1"><script>alert(1)</script>'
    text = f"Before. {payload} After."
    chunk = Chunk(id="c", text=payload, source="<b>doc</b>.txt", section="<i>s</i>", start=8, end=8 + len(payload))
    ev = Evidence(chunk=chunk, quote=payload, score=0.5)
    cite = Citation(
        marker=1,
        source=chunk.source,
        section=chunk.section,
        quote=payload,
        start=chunk.start,
        end=chunk.end,
        score=0.5,
        supported=False,
    )
    answer = Answer(answer=payload, refused=False, citations=[cite], retrieved=[ev])
    for html in (sources_html(answer, {chunk.source: text}, payload), retrieved_html(answer), chat_text(payload)):
        assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "brief-unsupported" in sources_html(answer, {chunk.source: text})
