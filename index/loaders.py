"""Load a file into text. Text formats keep their exact characters so citation offsets point into the file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".pdf", ".html", ".htm"}
# pypdf reports what it finds wrong in a damaged PDF through its logger: into the log, not onto stderr.
logging.getLogger("pypdf").addHandler(logging.NullHandler())


class LoadError(ValueError):
    """A file that cannot be indexed; the message says why in words a user understands."""


@dataclass(frozen=True)
class LoadedDocument:
    path: Path
    text: str
    content_hash: str
    kind: str  # "text", "markdown", "pdf" or "html"


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def load_document(path: Path, data: bytes | None = None) -> LoadedDocument:
    """Read `path` (or the given bytes) and return its text; raise LoadError for anything unusable."""
    import hashlib

    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LoadError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"{path}: unsupported file type '{suffix or '(none)'}'")
    if not data.strip():
        raise LoadError(f"{path}: file is empty")
    if suffix == ".pdf":
        text, kind = _pdf_text(path, data), "pdf"
    else:
        if b"\x00" in data[:8192]:
            raise LoadError(f"{path}: looks like a binary file, not text")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{path}: not valid UTF-8 text (byte {exc.start})") from exc
        if suffix in {".html", ".htm"}:
            text, kind = _html_text(text), "html"
        else:
            kind = "markdown" if suffix in {".md", ".markdown"} else "text"
    if not text.strip():
        raise LoadError(f"{path}: no text found in the file")
    return LoadedDocument(path=path, text=text, content_hash=hashlib.sha256(data).hexdigest(), kind=kind)


def _pdf_text(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise LoadError(f"{path}: not a readable PDF ({exc})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _html_text(html: str) -> str:
    """Visible text of an HTML page, one block per line; scripts and styles dropped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    blocks = [
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "li",
        "div",
        "section",
        "article",
        "br",
        "tr",
        "title",
        "blockquote",
        "pre",
    ]
    for tag in soup.find_all(blocks):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = [" ".join(line.split()) for line in soup.get_text().splitlines()]
    return "\n".join(line for line in lines if line)
