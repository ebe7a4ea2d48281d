"""Split a document into sentences, each with its section heading and its exact offsets in the source text.

Pure functions: no model, no store. Offsets always refer to the original text, so a citation's quote is
``text[start:end]`` even where a hard line break or a run of spaces sits inside the sentence.
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True)
class Sentence:
    text: str  # whitespace-normalised
    section: str
    start: int
    end: int


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


def chunk_document(text: str) -> list[Sentence]:
    """Sentences of `text` with their section headings; offsets index into `text` itself."""
    lines: list[tuple[int, str]] = []
    offset = 0
    for raw_line in text.splitlines(keepends=True):
        lines.append((offset, raw_line))
        offset += len(raw_line)

    sentences: list[Sentence] = []
    section = ""
    body_start: int | None = None
    body_end = 0

    def flush() -> None:
        nonlocal body_start
        if body_start is None:
            return
        normalised, origin = normalise_whitespace(text[body_start:body_end])
        for s, e in split_sentences(normalised):
            start = body_start + origin[s]
            end = body_start + origin[e - 1] + 1
            sentences.append(Sentence(text=normalised[s:e], section=section, start=start, end=end))
        body_start = None

    for idx, (line_start, line) in enumerate(lines):
        previous = lines[idx - 1][1] if idx > 0 else None
        following = next((ln for _, ln in lines[idx + 1 :] if ln.strip()), None)
        heading = _is_heading(line, previous, following)
        if heading is not None:
            flush()
            section = heading
            continue
        if not line.strip():
            # A blank line ends a paragraph; sentences never run across paragraphs.
            flush()
            continue
        if body_start is None:
            body_start = line_start
        body_end = line_start + len(line.rstrip())
    flush()
    return sentences
