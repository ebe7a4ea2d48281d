"""Load a file into text. Text formats keep their exact characters so citation offsets point into the file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from index.chunking import Block

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".pdf", ".html", ".htm"}
# pypdf reports what it finds wrong in a damaged PDF through its logger: into the log, not onto stderr.
logging.getLogger("pypdf").addHandler(logging.NullHandler())
log = logging.getLogger("brief.index")  # what made a file unreadable, beside the plain message the user gets


class LoadError(ValueError):
    """A file that cannot be indexed; the message says why in words a user understands."""


@dataclass(frozen=True)
class LoadedDocument:
    path: Path
    text: str
    content_hash: str
    kind: str  # "text", "markdown", "pdf" or "html"
    # Paragraphs with their sections when the format gives its structure (HTML); None: found from the lines.
    blocks: list[Block] | None = None


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
    blocks = None
    if suffix == ".pdf":
        text, kind = _pdf_text(path, data), "pdf"
    else:
        # Anywhere in the file, not only at its start: a NUL in the text would cut quotes short (SQLite's text
        # functions stop at it) while their offsets run on.
        if b"\x00" in data:
            raise LoadError(f"{path}: looks like a binary file, not text (a NUL byte at byte {data.index(0)})")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LoadError(f"{path}: not valid UTF-8 text (byte {exc.start})") from exc
        if suffix in {".html", ".htm"}:
            try:
                text, blocks = _html_document(text)
            except RecursionError as exc:
                raise LoadError(f"{path}: the HTML is nested too deeply to read") from exc
            kind = "html"
        else:
            kind = "markdown" if suffix in {".md", ".markdown"} else "text"
    if not text.strip():
        raise LoadError(f"{path}: no text found in the file")
    return LoadedDocument(path=path, text=text, content_hash=hashlib.sha256(data).hexdigest(), kind=kind, blocks=blocks)


def _pdf_text(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except LimitReachedError as exc:  # e.g. a few hundred KB that inflate to hundreds of MB
        log.info("%s: %s", path, exc)
        raise LoadError(f"{path}: not a readable PDF (its content expands past the reader's size limits)") from exc
    except RecursionError as exc:
        raise LoadError(f"{path}: not a readable PDF (its objects are nested too deeply)") from exc
    except Exception as exc:  # noqa: BLE001 (pypdf raises many types on damaged files; the log keeps which)
        log.info("%s: %s: %s", path, type(exc).__name__, exc)
        reason = (
            "it is encrypted" if isinstance(exc, FileNotDecryptedError | DependencyError) else "damaged or not a PDF"
        )
        raise LoadError(f"{path}: not a readable PDF ({reason})") from exc
    # A NUL in extracted text would cut quotes short (see above): it becomes U+FFFD, one character for one.
    return "\n\n".join(p.strip() for p in pages if p.strip()).replace("\x00", "\ufffd")


# Page chrome, found by generic markers rather than per-site rules: navigation landmarks, and the class names
# DocBook (navheader, navfooter, toc) and Sphinx (sphinxsidebar, related, headerlink) give their bars.
_CHROME_TAGS = ["script", "style", "noscript", "template", "head", "nav", "header", "footer", "aside", "form"]
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
_CHROME_CLASSES = {
    "navheader",
    "navfooter",
    "navigation",
    "toc",
    "sphinxsidebar",
    "sidebar",
    "related",
    "footer",
    "headerlink",
    "breadcrumbs",
    "mobile-nav",
    "menu-wrapper",
    "toctree-wrapper",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
TERM_LEVEL = 10  # a definition term (<dt>) ranks below every heading; nested lists rank lower still
# Elements that start a new paragraph; everything else (span, a, code, em, ...) is inline text.
_BLOCKS = {
    "p", "div", "section", "article", "main", "body", "li", "ul", "ol", "dd", "pre", "blockquote", "table",
    "thead", "tbody", "tfoot", "caption", "figure", "figcaption", "hr", "address", "details", "summary",
}  # fmt: skip
SECTION_SEPARATOR = " › "
SECTION_DEPTH = 2  # headings kept under the title: the nearest two ("Connection Settings › port (integer)")


def _html_document(html: str) -> tuple[str, list[Block]]:
    """The main content of a page as text, one paragraph per block with whitespace normalised, and the blocks.
    Headings and definition terms (<dt>) become the sections of the blocks under them, after the page title."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for tag in soup.find_all(_is_chrome):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(" ")
    main = soup.find(attrs={"role": "main"}) or soup.find("main") or soup.body or soup
    first_heading = main.find(list(_HEADINGS))
    if first_heading is not None:
        # "collections — Container datatypes — Python 3.11 documentation": the page's own heading is its name.
        name = " ".join(first_heading.get_text().split())
        if name and title.startswith(name):
            title = name
    builder = _TextBuilder(title)
    builder.walk(main)
    builder.end_paragraph()
    return builder.text(), builder.blocks


def _is_chrome(tag) -> bool:
    if tag.name in {"header", "footer"}:  # the page's banner and footer; an article's own header is content
        return tag.find_parent(["article", "main"]) is None
    if tag.name in _CHROME_TAGS:
        return True
    attrs = tag.attrs or {}
    if attrs.get("role") in _CHROME_ROLES:
        return True
    classes = attrs.get("class") or []
    return any(c in _CHROME_CLASSES for c in classes)


class _TextBuilder:
    """Accumulates inline text into paragraphs and tracks the heading path each paragraph sits under."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []  # finished lines of the output text
        self.length = 0
        self.blocks: list[Block] = []
        self.inline: list[str] = []
        self.path: list[tuple[int, str]] = []  # (level, heading) from the outermost in
        self.list_depth = 0
        self.in_cell = 0  # inside a table cell, paragraphs run together: a table row is one paragraph

    def text(self) -> str:
        return "".join(self.parts)

    def walk(self, node) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import PreformattedString

        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, CDATA, doctypes
                    self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS or name == "dt":
                self.end_paragraph()
                level = _HEADINGS.get(name, TERM_LEVEL + self.list_depth)
                heading = " ".join(child.get_text().split())
                if heading:
                    self._emit(heading)
                    # A heading inside a definition (a note's title) stays under its term; a term replaces the last.
                    while (
                        self.path
                        and self.path[-1][0] >= level
                        and (level >= TERM_LEVEL or self.path[-1][0] < TERM_LEVEL)
                    ):
                        self.path.pop()
                    if heading != self.title:
                        self.path.append((level, heading))
            elif self.in_cell:
                self.inline.append(" ")
                self.walk(child)
                self.inline.append(" ")
            elif name == "tr":
                self.end_paragraph()
                for cell in child.find_all(["td", "th"], recursive=False):
                    if "".join(self.inline).strip():
                        self.inline.append(" | ")
                    self.in_cell += 1
                    self.walk(cell)
                    self.in_cell -= 1
                self.end_paragraph()
            elif name in _BLOCKS or name == "dl":
                self._container(child)
            else:
                self.walk(child)

    def _container(self, tag) -> None:
        """A block element. Headings inside it end with it (a section, a note, a definition), unless it held
        nothing but them (a title wrapper such as DocBook's titlepage, whose heading covers what follows)."""
        self.end_paragraph()
        outer, blocks_before = list(self.path), len(self.blocks)
        self.list_depth += tag.name == "dl"
        self.walk(tag)
        self.end_paragraph()
        self.list_depth -= tag.name == "dl"
        if len(self.blocks) > blocks_before:
            self.path = outer

    def end_paragraph(self) -> None:
        paragraph = " ".join("".join(self.inline).split())
        self.inline = []
        if paragraph:
            start = self._emit(paragraph)
            self.blocks.append(Block(start, start + len(paragraph), self.section()))

    def section(self) -> str:
        names = [heading for _, heading in self.path[-SECTION_DEPTH:]]
        return SECTION_SEPARATOR.join(([self.title] if self.title else []) + names)

    def _emit(self, paragraph: str) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(paragraph)
        self.length += len(paragraph)
        return start
