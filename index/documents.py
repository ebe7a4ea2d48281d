"""Adding and removing documents while the assistant runs: the one implementation behind the web chat's
Documents panel and the API's /api/documents, so both check, save and roll back the same way.

An upload is checked (type, size, parseable text) before anything is written. Its bytes are then saved beside
their final place, as `uploads/.pending-NAME` (hidden: never listed or indexed), indexed under the final path
`uploads/NAME`, and moved over `uploads/NAME` only once the manifest entry (the index's commit) names them. So a
failed or killed upload leaves the previous version whole, on disk and in the index; `recover_uploads`, run when
`brief serve` or `brief index` starts, finishes or undoes whatever a killed upload or removal left half done.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from index.lexical import LexicalIndex, LexicalSync, lexical_index_path
from index.loaders import SUPPORTED_SUFFIXES, LoadedDocument, LoadError, load_document
from index.pipeline import IndexReport, size_refusal
from index.store import ManifestEntry
from kernel.settings import Settings

UPLOAD_SUFFIXES = (".txt", ".md", ".pdf", ".html")  # what the pages advertise; .markdown/.htm also load
PENDING_PREFIX = ".pending-"  # an upload's bytes until the index has committed them (safe names never start with ".")

_index_lock = threading.Lock()  # one upload or removal at a time: each rewrites part of the index


class UploadRefused(ValueError):
    """An upload that is refused before or while indexing; the message is for the user. Nothing changed."""


@dataclass(frozen=True)
class AddedDocument:
    entry: ManifestEntry
    name: str  # the sanitised file name it was saved as
    unchanged: bool  # the same bytes were already indexed under that name


# A saved name's stem, in UTF-8 bytes: with ".pending-", a hash and the suffix it stays well within the 255
# bytes a file name may have (a stem cut to fit gets a hash of the whole name, so cut names stay distinct).
MAX_STEM_BYTES = 150


def upload_name(name: str) -> str:
    """The file name an upload was given (its last path part, Unicode NFC): what tells two uploads apart."""
    return unicodedata.normalize("NFC", os.path.basename(str(name or "").replace("\\", "/")))


def safe_filename(name: str) -> str:
    """The basename with letters, marks and digits of any script and [._-] kept (other runs become "_"), no
    leading dots, a stem of at most MAX_STEM_BYTES. A name cut to that length, or with nothing but symbols
    ("😀.txt"), gets a short hash of the whole name, so that such names stay distinct."""
    base = upload_name(name)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    marked = "".join(c if c in "._-" or unicodedata.category(c)[0] in "LMN" else " " for c in stem)
    kept = "_".join(marked.split()).strip("._-")  # each run of other characters: one "_"
    cut = kept.encode()[:MAX_STEM_BYTES].decode(errors="ignore").rstrip("._-")
    if not cut:
        cut = "document" + (f"-{_name_digest(base)}" if stem.strip("._- ") else "")
    elif cut != kept:
        cut = f"{cut}-{_name_digest(base)}"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:10]
    return f"{cut}.{suffix}" if suffix else cut


def _name_digest(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _with_digest(saved: str, given: str) -> str:
    stem, dot, suffix = saved.rpartition(".")
    return f"{stem}-{_name_digest(given)}.{suffix}" if dot else f"{saved}-{_name_digest(given)}"


def _saved_name(safe: str, given: str, uploads: Path, known: dict[str, ManifestEntry]) -> str:
    """The name an upload called `given` is saved under: its safe name, unless a document uploaded under another
    name is saved as that (safe names of "a b.txt" and "a_b.txt" are the same), then the safe name with a hash
    of `given`. So distinct names stay distinct documents, and an upload replaces a document only when it has
    the same name (an upload saved before names were recorded: only when it was saved under the name given)."""
    for candidate in (safe, _with_digest(safe, given)):
        held = known.get(str(uploads / candidate))
        if held is None or (held.upload_name or candidate) == given:
            return candidate
    raise UploadRefused(f"{given}: another document is already saved as {safe}; rename the file and upload it again")


def document_id(path_key: str) -> str:
    """A short stable id for an indexed document (its path key), safe to put in a URL."""
    return hashlib.sha1(path_key.encode()).hexdigest()[:12]


def check_upload(filename: str, data: bytes, settings: Settings) -> str:
    """The sanitised name to save `data` under; UploadRefused (nothing written) if it cannot be indexed."""
    return _checked(filename, data, settings)[0]


def _checked(filename: str, data: bytes, settings: Settings) -> tuple[str, LoadedDocument]:
    name = safe_filename(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadRefused(
            f"{filename}: unsupported file type '{suffix or '(none)'}'; use {' '.join(UPLOAD_SUFFIXES)}"
        )
    if len(data) > settings.limits.max_document_bytes:
        raise UploadRefused(size_refusal(filename, len(data), settings.limits.max_document_bytes))
    try:
        return name, load_document(Path(name), data=data)
    except LoadError as exc:
        raise UploadRefused(str(exc)) from exc


def add_document(store, settings: Settings, filename: str, data: bytes) -> AddedDocument:
    """Check, save and index one uploaded file; on any failure the files and the index stay as they were."""
    from index.pipeline import display_path, index_document

    name, doc = _checked(filename, data, settings)
    given = upload_name(filename)
    uploads = Path(settings.store.uploads_dir)
    uploads.mkdir(parents=True, exist_ok=True)
    with _index_lock:
        known = store.documents(with_text=False)
        name = _saved_name(name, given, uploads.resolve(), known)
        target = (uploads / name).resolve()
        pending = target.with_name(PENDING_PREFIX + name)
        previous = known.get(str(target))
        unchanged = previous is not None and previous.doc_hash == doc.content_hash
        _write_durably(pending, data)
        try:
            if not unchanged:
                source = display_path(target, data_dir=settings.store.data_dir)
                report = index_document(str(target), source, doc, settings, store, upload_name=given)
                if report.errors:
                    raise UploadRefused("; ".join(report.errors))
        finally:
            _settle(store, pending)
        entry = store.documents().get(str(target))
    if entry is None or entry.doc_hash != doc.content_hash:
        raise UploadRefused(f"{filename}: nothing could be indexed from the file")
    return AddedDocument(entry=entry, name=name, unchanged=unchanged)


def remove_document(store, settings: Settings, path_key: str) -> ManifestEntry | None:
    """Remove a document from the index, and its file when it was uploaded; None if it was not indexed."""
    with _index_lock:
        entry = store.documents().get(path_key)
        if entry is None:
            return None
        store.remove_document(path_key)
        if Path(path_key).parent == Path(settings.store.uploads_dir).resolve():
            Path(path_key).unlink(missing_ok=True)
    return entry


def recover_uploads(store, settings: Settings) -> IndexReport | None:
    """Finish or undo what a killed upload or removal left half done; run before serving or indexing. First,
    if a killed process left Chroma unable to search the vectors, the index is rebuilt from the documents it
    holds (`repair_vectors`); its report is returned, else None.

    A pending upload whose bytes the manifest already names is moved into place, any other is deleted with the
    sentences it had written. A file in the uploads that the index does not name (a new upload killed while
    indexing, or a removal killed before its unlink) is deleted rather than indexed: its upload never
    succeeded, or its removal was asked for. An indexed upload whose file is gone leaves the index; one whose
    file differs from what is indexed (left by a version without pending uploads), or that is named by its
    absolute path on the server (an older version's source), is indexed again."""
    from index.pipeline import index_paths, repair_vectors

    uploads = Path(settings.store.uploads_dir)
    with _index_lock:
        repaired = repair_vectors(settings, store)
        if not uploads.is_dir():
            return repaired
        root = uploads.resolve()
        for pending in sorted(root.glob(PENDING_PREFIX + "*")):
            _settle(store, pending)
        committed = {key: entry for key, entry in store.documents().items() if Path(key).parent == root}
        stale = []
        for path in sorted(root.iterdir()):
            if not path.is_file():
                continue
            entry = committed.get(str(path))
            if entry is None:
                path.unlink()  # an orphan, or a hidden leftover of an older version's partial write
                store.delete_stale_chunks(str(path), None)
            elif entry.doc_hash != _content_hash(path.read_bytes()) or os.path.isabs(entry.source):
                stale.append(path)  # changed, or named by the server's path (uploaded before sources hid it)
        for key in committed:
            if not Path(key).exists():
                store.remove_document(key)
        if stale:
            index_paths(stale, settings, progress=False, store=store)
    return repaired


def _settle(store, pending: Path) -> None:
    """Move a pending upload into place if the index has committed its bytes, otherwise delete it; then delete
    the sentences of the version that lost (the replaced one, or the pending one's half-written)."""
    target = pending.with_name(pending.name.removeprefix(PENDING_PREFIX))
    entry = store.documents().get(str(target))
    if entry is not None and entry.doc_hash == _content_hash(pending.read_bytes()):
        os.replace(pending, target)
        _sync_directory(target.parent)
    else:
        pending.unlink()
    store.delete_stale_chunks(str(target), entry.doc_hash if entry else None)


def _content_hash(data: bytes) -> str:
    """The hash the manifest records for a file's bytes (as `load_document` computes it)."""
    return hashlib.sha256(data).hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DocumentService:
    """The indexed documents, for every shell (the chat's Documents panel, /api/documents, `brief index`,
    `brief serve`) and the workbench: index files and texts, list them, add and remove one, and read a
    source's text. They go through it, never to the store."""

    def __init__(self, store, settings: Settings):
        self.store = store
        self.settings = settings
        self._texts: tuple[str, dict[str, str]] | None = None  # (store version, source -> text)

    @classmethod
    def open(cls, settings: Settings, *, verify: bool = True) -> DocumentService:
        """The service over the live index of `settings`; `verify=False` skips the embedding-model check (a
        rebuild replaces what it finds)."""
        from index.pipeline import open_store

        return cls(open_store(settings, verify=verify), settings)

    def index(self, paths: list[Path], *, rebuild: bool = False, progress: bool = True) -> IndexReport:
        """Index files and folders (`index_paths`), then sync the lexical index, a cache of the store synced
        before a search: syncing now spares the first question the fetch of every new document."""
        from index.pipeline import index_paths

        report = index_paths(paths, self.settings, rebuild=rebuild, progress=progress, store=self.store)
        lexical = LexicalIndex(lexical_index_path(self.settings.store))
        try:
            LexicalSync(self.store, lexical).sync()
        finally:
            lexical.close()
        return report

    def index_texts(self, texts: list[tuple[str, str]], *, progress: bool = True) -> IndexReport:
        """Index documents that are not files, (source name, text) pairs (`index_texts`: SQuAD paragraphs)."""
        from index.pipeline import index_texts

        return index_texts(texts, self.settings, progress=progress, store=self.store)

    def entries(self) -> list[ManifestEntry]:
        """Every indexed document, by source."""
        return sorted(self.store.documents().values(), key=lambda e: e.source)

    def sentence_count(self) -> int:
        """How many sentences are indexed, across the documents."""
        return self.store.count()

    def is_empty(self) -> bool:
        """Nothing is indexed yet."""
        return self.store.count() == 0

    def find(self, doc_id: str) -> list[str]:
        """The path keys of the documents with this `document_id`."""
        return [path for path in self.store.documents(with_text=False) if document_id(path) == doc_id]

    def add(self, filename: str, data: bytes) -> AddedDocument:
        return add_document(self.store, self.settings, filename, data)

    def remove(self, path_key: str) -> ManifestEntry | None:
        return remove_document(self.store, self.settings, path_key)

    def recover(self) -> IndexReport | None:
        """`recover_uploads`: the report of the index's rebuild if its vectors could not be read, else None."""
        return recover_uploads(self.store, self.settings)

    def texts(self) -> dict[str, str]:
        """Displayed source -> the document's full text (what citations' offsets point into), read from the
        store once per version of the index."""
        version = self.store.version()
        if self._texts is None or self._texts[0] != version:
            self._texts = (version, {e.source: e.text for e in self.store.documents().values()})
        return self._texts[1]

    def text(self, source: str) -> str | None:
        return self.texts().get(source)
