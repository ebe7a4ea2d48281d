"""HTML for the sources panel and the documents list. Every piece of document or model text goes through
`esc` (html.escape) before it is put into markup, so it is shown as text and never runs."""

from __future__ import annotations

import html

CONTEXT_CHARS = 220

_PANEL = "font-size:0.95em;line-height:1.45;"
_CARD = "border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin:6px 0;"
_CARD_UNSUPPORTED = "border:2px solid #cf222e;border-radius:6px;padding:8px 10px;margin:6px 0;background:#fff5f5;"
_MARK = "background:#fff3a3;color:#111;padding:0 2px;border-radius:2px;"
_META = "color:#57606a;font-size:0.85em;"
_BADGE_BAD = "color:#fff;background:#cf222e;border-radius:4px;padding:1px 6px;font-size:0.8em;margin-left:6px;"
_BADGE_OK = "color:#fff;background:#1a7f37;border-radius:4px;padding:1px 6px;font-size:0.8em;margin-left:6px;"


def esc(text: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def chat_text(text: str) -> str:
    """Text for a chatbot message: <, > and & escaped so markup in it is displayed, not interpreted.
    Quotes are left alone so the copy button copies readable text."""
    return html.escape(text, quote=False)


def _context(text: str | None, start: int, end: int, quote: str) -> tuple[str, str, str]:
    """(before, quote, after) around [start, end) of the document text, trimmed to whole words."""
    if not text or text[start:end] != quote:
        return "", quote, ""
    lo = max(0, start - CONTEXT_CHARS)
    hi = min(len(text), end + CONTEXT_CHARS)
    before, after = text[lo:start], text[end:hi]
    if lo > 0:
        cut = before.find(" ")
        before = "…" + (before[cut + 1 :] if cut != -1 else before)
    if hi < len(text):
        cut = after.rfind(" ")
        after = (after[:cut] if cut != -1 else after) + "…"
    return before, quote, after


def highlighted(text: str | None, start: int, end: int, quote: str) -> str:
    before, quote, after = _context(text, start, end, quote)
    return f"{esc(before)}<mark class='brief-quote' style='{_MARK}'>{esc(quote)}</mark>{esc(after)}"


def sources_html(answer, texts: dict[str, str], question: str = "") -> str:
    """The cited passages of an answer (or, for a refusal, the closest passages)."""
    if answer is None:
        return f"<div style='{_PANEL}color:#57606a'>Sources of the answer appear here.</div>"
    state = "refused" if answer.refused else "answered"
    parts = [f"<div class='brief-sources' data-state='{state}' data-question='{esc(question)}' style='{_PANEL}'>"]
    if answer.refused:
        parts.append(
            "<p class='brief-refusal'><strong>The brief does not cover this question.</strong> "
            "These are the closest passages found; they do not answer it.</p>"
        )
        for ev in answer.retrieved[:3]:
            c = ev.chunk
            parts.append(
                f"<div style='{_CARD}'><div style='{_META}'>{esc(c.source)} · {esc(c.section or 'no section')}"
                f" · score {ev.score:.2f}</div>"
                f"<div>{highlighted(texts.get(c.source), c.start, c.end, ev.quote)}</div></div>"
            )
        if not answer.retrieved:
            parts.append("<p>Nothing related was found in the indexed documents.</p>")
    else:
        if not answer.citations:
            parts.append("<p>This answer has no citations.</p>")
        for c in answer.citations:
            style = _CARD if c.supported else _CARD_UNSUPPORTED
            badge = (
                f"<span class='brief-unsupported' style='{_BADGE_BAD}'>not supported by this passage</span>"
                if not c.supported
                else f"<span style='{_BADGE_OK}'>supported</span>"
            )
            parts.append(
                f"<div class='brief-citation' data-supported='{str(c.supported).lower()}' style='{style}'>"
                f"<div style='{_META}'><strong>[{c.marker}]</strong> {esc(c.source)} · "
                f"{esc(c.section or 'no section')} · chars {c.start}–{c.end}{badge}</div>"
                f"<div>{highlighted(texts.get(c.source), c.start, c.end, c.quote)}</div></div>"
            )
    parts.append("</div>")
    return "".join(parts)


def retrieved_html(answer) -> str:
    """Everything retrieved for the last question, best first, with scores."""
    if answer is None or not answer.retrieved:
        return f"<div style='{_PANEL}color:#57606a'>Nothing retrieved yet.</div>"
    rows = "".join(
        f"<tr><td>{i}</td><td>{ev.score:.3f}</td><td>{esc(ev.chunk.source)}</td>"
        f"<td>{esc(ev.chunk.section)}</td><td>{esc(ev.quote)}</td></tr>"
        for i, ev in enumerate(answer.retrieved, start=1)
    )
    return (
        f"<table class='brief-retrieved' style='{_PANEL}border-collapse:collapse'>"
        "<thead><tr><th>#</th><th>score</th><th>source</th><th>section</th><th>sentence</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def documents_html(entries) -> str:
    if not entries:
        return f"<div style='{_PANEL}'>No documents are indexed.</div>"
    rows = "".join(
        f"<tr><td>{esc(e.source)}</td><td>{e.n_chunks}</td><td>{esc(e.kind)}</td></tr>"
        for e in sorted(entries, key=lambda e: e.source)
    )
    return (
        f"<table class='brief-documents' style='{_PANEL}border-collapse:collapse'>"
        "<thead><tr><th>document</th><th>sentences</th><th>kind</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
