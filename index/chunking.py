"""Split a document into sentences, each with its section heading and its exact offsets in the source text.

Pure functions: no model, no store. Offsets always refer to the original text, so a citation's quote is
``text[start:end]`` even where a hard line break or a run of spaces sits inside the sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Tokens ending in a period that do not end a sentence.
ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "no",
    "fig",
    "gen",
    "gov",
    "sen",
    "rep",
    "lt",
    "col",
    "capt",
    "sgt",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "inc",
    "ltd",
    "co",
    "corp",
    "approx",
    "est",
    "al",
    "ca",
}
_INITIALISM = re.compile(r"^(?:[A-Za-z]\.){1,4}[A-Za-z]?$")  # U.S, U.K, e.g, i.e
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+|$)")
_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
MAX_HEADING_WORDS = 12
MAX_SENTENCE_CHARS = 1000
MAX_PARAGRAPH_CHARS = 20_000


@dataclass(frozen=True)
class Sentence:
    text: str  # whitespace-normalised
    section: str
    start: int
    end: int


@dataclass(frozen=True)
class Block:
    """A paragraph of extracted text, text[start:end], and the section it sits in (from a structured
    format such as HTML, where the loader knows the headings)."""

    start: int
    end: int
    section: str


def normalise_whitespace(text: str) -> tuple[str, list[int]]:
    """Collapse every whitespace run to one space and strip the ends; return the text and, for each of its
    characters, the index of the character it came from."""
    out: list[str] = []
    origin: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            origin.append(i - 1)
            pending_space = False
        out.append(ch)
        origin.append(i)
    return "".join(out), origin


def _is_heading(line: str, previous: str | None, following: str | None) -> str | None:
    """Return the heading text if this line is a section heading, else None."""
    stripped = line.strip()
    match = _MARKDOWN_HEADING.match(line)
    if match:
        return match.group(1).strip() or None
    if not stripped or following is None or not following.strip():
        return None
    words = stripped.split()
    if len(words) > MAX_HEADING_WORDS or not (stripped[0].isupper() or stripped[0].isdigit()):
        return None
    if stripped[-1] in ".,;":
        return None
    # A heading stands after a blank line, at the top, or after a line that ended its sentence.
    if previous is not None and previous.strip() and previous.rstrip()[-1] not in ".!?:\"')":
        return None
    return stripped.rstrip(":").strip()


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans [start, end) in `text`, which should already be whitespace-normalised."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        token = text[start : match.start() + 1].split()[-1] if text[start : match.start() + 1].split() else ""
        word = token.rstrip(".!?\"')]").lstrip("\"'(")
        if match.group().startswith(".") and len(match.group().rstrip("\"')]")) == 1:
            if word.lower() in ABBREVIATIONS or _INITIALISM.match(word + ".") and _continues(text, end):
                continue
            if len(word) == 1 and word.isupper():  # a middle initial: "John F. Kennedy"
                continue
        if end < len(text) and not _starts_sentence(text, end):
            continue
        if text[start:end].strip():
            spans.append((start, end))
        start = end + 1 if end < len(text) and text[end] == " " else end
    if text[start:].strip():
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if any(c.isalnum() for c in text[s:e])]


def _starts_sentence(text: str, position: int) -> bool:
    rest = text[position:].lstrip()
    return bool(rest) and (rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"'(“‘[")


def _continues(text: str, position: int) -> bool:
    """After an initialism such as 'U.S.', a capitalised word usually continues the sentence (U.S. Bureau)."""
    rest = text[position:].lstrip()
    nxt = rest.split(" ", 1)[0] if rest else ""
    return bool(nxt) and nxt[0].isupper() and nxt.lower() not in {"the", "this", "it", "he", "she", "they", "in"}


def chunk_document(text: str, blocks: list[Block] | None = None) -> list[Sentence]:
    """Sentences of `text` with their section headings; offsets index into `text` itself."""
    return list(iter_sentences(text, blocks))


def iter_sentences(text: str, blocks: Iterable[Block] | None = None) -> Iterator[Sentence]:
    """Sentences of `text`, lazily and in order. With `blocks` (a loader that knows the structure, e.g. HTML)
    each block is a paragraph under its given section; without, headings and paragraphs are found from the
    lines. Work per paragraph is bounded, so a huge file streams in constant memory beyond its text."""
    if blocks is not None:
        for block in blocks:
            yield from _paragraph_sentences(text, block.start, block.end, block.section)
        return
    section = ""
    body_start: int | None = None
    body_end = 0
    for line_start, line, previous, following in _lines_in_context(text):
        heading = _is_heading(line, previous, following)
        if heading is not None or not line.strip():
            # A heading or a blank line ends a paragraph; sentences never run across paragraphs.
            if body_start is not None:
                yield from _paragraph_sentences(text, body_start, body_end, section)
                body_start = None
            if heading is not None:
                section = heading
            continue
        if body_start is None:
            body_start = line_start
        body_end = line_start + len(line.rstrip())
        while body_end - body_start > MAX_PARAGRAPH_CHARS:
            # A paragraph without blank lines, or one long line (a whole file, say): emit the sentences of
            # its first window but the last, which may go on past the window, and carry on from that one.
            window_end = body_start + MAX_PARAGRAPH_CHARS
            done = list(_paragraph_sentences(text, body_start, window_end, section))
            if len(done) > 1:
                yield from done[:-1]
                body_start = done[-1].start
            else:  # no sentence ends in the window: cut it there
                yield from done
                body_start = window_end
    if body_start is not None:
        yield from _paragraph_sentences(text, body_start, body_end, section)


def _paragraph_sentences(text: str, start: int, end: int, section: str) -> Iterator[Sentence]:
    normalised, origin = normalise_whitespace(text[start:end])
    for s, e in split_sentences(normalised):
        for piece_start, piece_end in _cap_length(normalised, s, e):
            yield Sentence(
                text=normalised[piece_start:piece_end],
                section=section,
                start=start + origin[piece_start],
                end=start + origin[piece_end - 1] + 1,
            )


def _cap_length(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Cut a span longer than MAX_SENTENCE_CHARS at spaces (code, tables, text without full stops): the
    embedder reads only its first ~256 word pieces, and a quote should stay readable."""
    while end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start + 1, start + MAX_SENTENCE_CHARS)
        cut = cut if cut > start else start + MAX_SENTENCE_CHARS
        yield start, cut
        start = cut + 1 if text[cut] == " " else cut
    if end > start:
        yield start, end


# What str.splitlines() splits on, so offsets match it.
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]*(?:\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])?")


def _lines_in_context(text: str) -> Iterator[tuple[int, str, str | None, str | None]]:
    """(offset, line, the line before, the next non-blank line) for each line of `text`, lazily."""
    previous: str | None = None
    waiting: list[tuple[int, str]] = []  # lines whose next non-blank line is not read yet
    for match in _LINE.finditer(text):
        if match.start() == len(text):
            break
        line = match.group()
        if line.strip():
            for offset, earlier in waiting:
                yield offset, earlier, previous, line
                previous = earlier
            waiting = []
        waiting.append((match.start(), line))
    for offset, earlier in waiting:
        yield offset, earlier, previous, None
        previous = earlier
