"""Lexical search over the indexed sentences: SQLite FTS5 with its built-in BM25 ranking.

The index is a derived cache of the Chroma store, kept in one SQLite file on local disk (each `brief serve`
replica keeps its own). It holds, per document, the version it mirrors, the document's text (for quotes) and
its sentences; `LexicalSync` (the retriever's before each search, and `DocumentService.index`'s) syncs it by
diffing the store's manifest against `versions()` and fetching only the documents that changed. Every document
is written or removed in one transaction, so a process killed mid-sync leaves the file as it was before that
document; a file that is not a readable index of this schema is deleted and rebuilt from the store.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import Stemmer

from index.chunking import MAX_HEADING_WORDS
from kernel.settings import StoreSettings
from kernel.text import STOPWORDS, words
from kernel.types import Chunk

# Bump when what is matched (match_text) or how it is tokenised changes: older files are then rebuilt.
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE documents (
    path TEXT PRIMARY KEY,      -- the store's document key
    version TEXT NOT NULL,      -- the manifest version mirrored (doc_hash and commit time)
    source TEXT NOT NULL,
    text TEXT NOT NULL          -- the document's text: quotes are text[start:end]
);
CREATE TABLE sentences (
    rowid INTEGER PRIMARY KEY,  -- also the rowid of the sentence's row in `matches`
    id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    position INTEGER NOT NULL,
    source TEXT NOT NULL,
    section TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    doc_hash TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX sentences_by_position ON sentences (path, position);
-- The tokens matched: stems of the sentence's words with its title and section (see match_text). The
-- tokens are written pre-stemmed, so FTS5 only splits on spaces.
CREATE VIRTUAL TABLE matches USING fts5 (tokens, tokenize = "unicode61 tokenchars '-''_'");
"""


_local = threading.local()  # a Stemmer object must not be shared between threads


def bm25_tokens(text: str) -> list[str]:
    """The terms BM25 sees: words without stopwords, stemmed by Snowball's English stemmer (PyStemmer). On
    the brief's question set and the SQuAD test file, lexical search alone found the gold sentence as often
    with it as with kernel.text's light stemmer, and slightly more often first on SQuAD; without
    kernel.text's stopwords, or with scikit-learn's list instead, it found it less often."""
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer.stemWords([w for w in words(text) if w not in STOPWORDS])


# BM25 scores a sentence up for being shorter than the average, and fragments ("limitations of pg_dump.") then
# outrank a page's defining sentence. A sentence's tokens are padded to at least this many with a token no
# query holds, so nothing gains for being shorter than a typical sentence (the median over the PostgreSQL and
# Python manuals is 15 tokens); longer sentences are normalised as before.
MIN_MATCH_TOKENS = 16
PAD = "_"  # words() never yields it


def match_text(chunk: Chunk, title: str) -> str:
    """What a sentence is matched by: its words, its section's and its document's title's. The context makes
    a page's defining sentence match the page's subject even when it says 'It', and makes a short fragment
    less short, so BM25's length normalisation favours it less."""
    context = [title] if title and title != chunk.section else []
    tokens = bm25_tokens(" ".join([*context, chunk.section, chunk.text]))
    return " ".join(tokens + [PAD] * (MIN_MATCH_TOKENS - len(tokens)))


def document_title(text: str) -> str:
    """A document's first line when it reads as a heading ('pg_dump', '20.12. Lock Management', '# Notes'):
    short, not ending a clause, and followed by more text; else ''."""
    first, _, rest = text.strip().partition("\n")
    first = first.strip().lstrip("#").strip()
    is_heading = rest.strip() and len(first.split()) <= MAX_HEADING_WORDS and first[-1:] not in ".,;"
    return first if is_heading else ""


@dataclass(frozen=True)
class IndexedDocument:
    """One committed document, as the store holds it: what `LexicalIndex.put` writes."""

    path: str
    version: str
    source: str
    text: str
    chunks: list[Chunk]


class LexicalIndex:
    """BM25 over sentences in an SQLite FTS5 file (or in memory when `path` is None). Thread-safe."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        self._db = self._open()

    # Opening -------------------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._create(sqlite3.connect(":memory:", check_same_thread=False))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                db.execute("SELECT count(*) FROM documents").fetchone()
                db.execute("SELECT count(*) FROM matches WHERE matches MATCH 'x'").fetchone()
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                return db
            if version == 0 and not db.execute("SELECT name FROM sqlite_master").fetchall():
                return self._create(db)  # a new, empty file
            db.close()
        except sqlite3.DatabaseError:  # not a database, or a damaged one
            with contextlib.suppress(Exception):
                db.close()
        return self._recreate()

    def _recreate(self) -> sqlite3.Connection:
        """An older schema or an unreadable file: it is only a cache, so start it again, empty."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return self._create(sqlite3.connect(self.path, check_same_thread=False, timeout=30))

    def reset(self) -> None:
        """Empty the index, deleting its file: for a file found damaged after it was opened."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = (
                self._create(sqlite3.connect(":memory:", check_same_thread=False))
                if self.path is None
                else self._recreate()
            )

    @staticmethod
    def _create(db: sqlite3.Connection) -> sqlite3.Connection:
        if db.execute("PRAGMA journal_mode=WAL").fetchone()[0] not in {"wal", "memory"}:
            raise sqlite3.OperationalError("cannot use write-ahead logging for the lexical index")
        # With write-ahead logging a commit stays atomic without waiting for the disk; at worst a power cut
        # loses the last commits, which the next sync fetches again.
        db.execute("PRAGMA synchronous=NORMAL")
        with db:
            db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Contents ------------------------------------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        """path -> version of every document held."""
        with self._lock:
            return dict(self._db.execute("SELECT path, version FROM documents"))

    def put(self, document: IndexedDocument) -> None:
        """Hold `document` in place of any earlier version of it (one transaction)."""
        title = document_title(document.text)
        with self._lock, self._db:
            self._delete(document.path)
            self._db.execute(
                "INSERT INTO documents (path, version, source, text) VALUES (?, ?, ?, ?)",
                (document.path, document.version, document.source, document.text),
            )
            first = self._db.execute("SELECT coalesce(max(rowid), 0) + 1 FROM sentences").fetchone()[0]
            rows = list(enumerate(document.chunks, start=first))
            self._db.executemany(
                'INSERT INTO sentences (rowid, id, path, position, source, section, start, "end", doc_hash, text) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (n, c.id, document.path, c.position, c.source, c.section, c.start, c.end, c.doc_hash, c.text)
                    for n, c in rows
                ],
            )
            self._db.executemany(
                "INSERT INTO matches (rowid, tokens) VALUES (?, ?)", [(n, match_text(c, title)) for n, c in rows]
            )

    def remove(self, path: str) -> None:
        with self._lock, self._db:
            self._delete(path)

    def _delete(self, path: str) -> None:
        self._db.execute("DELETE FROM matches WHERE rowid IN (SELECT rowid FROM sentences WHERE path = ?)", (path,))
        self._db.execute("DELETE FROM sentences WHERE path = ?", (path,))
        self._db.execute("DELETE FROM documents WHERE path = ?", (path,))

    # Reading -------------------------------------------------------------------------------------------
    def search(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """The `k` best sentences for `query` by BM25, best first, with their scores (higher is better)."""
        terms = dict.fromkeys(bm25_tokens(query))
        if not terms:
            return []
        expression = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        with self._lock:
            # The best k first, then their sentences: joining before the LIMIT would read every match's row.
            rows = self._db.execute(
                f"SELECT {_CHUNK_COLUMNS}, -hits.score FROM (SELECT rowid, bm25(matches) AS score FROM matches "
                "WHERE matches MATCH ? ORDER BY score LIMIT ?) hits JOIN sentences s ON s.rowid = hits.rowid "
                "ORDER BY hits.score",
                (expression, k),
            ).fetchall()
        return [(_chunk(row), float(row[-1])) for row in rows]

    def chunk(self, chunk_id: str) -> Chunk | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM sentences s WHERE id = ?", (chunk_id,)).fetchone()
        return _chunk(row) if row else None

    def previous(self, chunk_id: str) -> Chunk | None:
        """The sentence before this one in the same document, if any."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM sentences c JOIN sentences s "
                "ON s.path = c.path AND s.position = c.position - 1 WHERE c.id = ?",
                (chunk_id,),
            ).fetchone()
        return _chunk(row) if row else None

    def first(self, chunk_id: str) -> Chunk | None:
        """The opening sentence of the document this sentence is in, if it is held."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM sentences s JOIN sentences c ON s.path = c.path WHERE c.id = ? "
                "ORDER BY s.position LIMIT 1",
                (chunk_id,),
            ).fetchone()
        return _chunk(row) if row else None

    def quote(self, chunk_id: str) -> str:
        """The sentence's verbatim text in its document, `text[start:end]` ('' if not held). SQLite's `substr`
        cuts it for a free read; should SQLite's count differ from Python's (its text functions stop at a NUL),
        the quote is cut from the whole text in Python, so it is always exact."""
        with self._lock:
            row = self._db.execute(
                'SELECT substr(d.text, s.start + 1, s."end" - s.start), s.start, s."end", d.path FROM sentences s '
                "JOIN documents d ON d.path = s.path WHERE s.id = ?",
                (chunk_id,),
            ).fetchone()
            if row is None:
                return ""
            quote, start, end, path = row
            if len(quote) == end - start:
                return quote
            (text,) = self._db.execute("SELECT text FROM documents WHERE path = ?", (path,)).fetchone()
        return text[start:end]

    def all_sentences(self, max_chars: int) -> list[Chunk] | None:
        """Every sentence held, in document order, when their text is at most `max_chars` long in all; else
        None (a collection too large to be read whole)."""
        with self._lock:
            (total,) = self._db.execute("SELECT coalesce(sum(length(text)), 0) FROM sentences").fetchone()
            if total > max_chars:
                return None
            rows = self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM sentences s ORDER BY s.source, s.start").fetchall()
        return [_chunk(row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM sentences").fetchone()[0]


def lexical_index_path(store: StoreSettings) -> Path:
    """One cache file per collection (a SQuAD evaluation indexes into a collection of its own)."""
    return store.data_dir / "lexical" / (re.sub(r"[^A-Za-z0-9_.-]", "_", store.collection) + ".sqlite3")


class LexicalSync:
    """Keeps a `LexicalIndex` a cache of the store: a sync compares the store's manifest with the versions the
    index holds and fetches only the documents that changed. Thread-safe."""

    def __init__(self, store, lexical: LexicalIndex):
        self.store = store
        self.lexical = lexical
        self._held = self.lexical.versions()
        self._lock = threading.Lock()

    def sync(self, manifest=None) -> list[str]:
        """Bring the lexical index up to date with the store's committed documents; returns the paths
        fetched from the store. `manifest` is `store.documents(with_text=False)` if already read."""
        manifest = self.store.documents(with_text=False) if manifest is None else manifest
        wanted = {path: entry.version for path, entry in manifest.items()}
        with self._lock:
            if wanted == self._held:
                return []
            try:
                return self._fetch(wanted)
            except sqlite3.DatabaseError:  # the file was damaged while open: start it again from the store
                self.lexical.reset()
                self._held = {}
                return self._fetch(wanted)

    def _fetch(self, wanted: dict[str, str]) -> list[str]:
        """Remove what the store no longer holds, then fetch each document whose version changed."""
        for path in self._held.keys() - wanted.keys():
            self.lexical.remove(path)
        fetched = []
        for path, version in wanted.items():
            if self._held.get(path) == version:
                continue
            found = self.store.committed_document(path)
            fetched.append(path)
            if found is None:  # replaced or removed since the manifest was read: the next sync sees it
                continue
            entry, chunks = found
            self.lexical.put(IndexedDocument(entry.path, entry.version, entry.source, entry.text, chunks))
        self._held = self.lexical.versions()
        return fetched


_CHUNK_COLUMNS = 's.id, s.text, s.source, s.section, s.start, s."end", s.position, s.doc_hash'


def _chunk(row) -> Chunk:
    cid, text, source, section, start, end, position, doc_hash = row[:8]
    return Chunk(
        id=cid, text=text, source=source, section=section, start=start, end=end, position=position, doc_hash=doc_hash
    )
