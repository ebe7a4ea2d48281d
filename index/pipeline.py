"""load → normalise → chunk → embed → store, incrementally: unchanged files are skipped, changed files are
replaced, deleted files are removed."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunking import iter_sentences
from index.loaders import LoadedDocument, LoadError, is_supported, load_document
from index.store import ChunkStore, ManifestEntry, StoreError
from kernel.embedder import OnnxEmbeddings, load_embeddings, model_dimension
from kernel.settings import Settings
from kernel.types import Chunk

# Sentences embedded together, across documents: the embedder sorts them by length into batches, so a larger
# pool pads less (on the manuals, batches from a pool of 512 held about half again as many tokens as their
# sentences, from a pool of 2,048 a few per cent more), at the cost of a progress update every pool.
EMBED_POOL = 2048
# What `brief index` and `brief serve` print after `repair_vectors` rebuilt the index (with its report's summary).
REPAIR_NOTICE = (
    "the vector index could not be read (a process was killed while Chroma wrote it), "
    "so it was rebuilt from the documents it holds: {}"
)


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    chunks_written: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {self.chunks_written} sentences embedded"
            + (f", {len(self.errors)} failed" if self.errors else "")
        )


def open_store(settings: Settings, *, verify: bool = True) -> ChunkStore:
    """The live index; `verify=False` skips the embedding-model check (a rebuild replaces what it finds)."""
    return ChunkStore(
        settings.store, settings.model.embedding_model, model_dimension(settings.model.embedding_model), verify=verify
    )


def display_path(path: Path, root: Path | None = None, data_dir: Path | None = None) -> str:
    """How a document is named to users (its `source`), never by the server's absolute path: relative to the
    working directory when inside it, else to the data dir (an upload: "uploads/notes.md"), else to the folder
    holding the indexed `root` ("seeds/brief.txt" for `brief index /srv/seeds`), else its file name."""
    resolved = path.resolve()
    cwd = Path.cwd()
    bases = [cwd if cwd.parent != cwd else None, data_dir, root.resolve().parent if root else None, resolved.parent]
    for base in bases:
        if base is None:  # (a server started in "/" names documents as if it were not inside it)
            continue
        try:
            return str(resolved.relative_to(base.resolve()))
        except ValueError:
            continue
    return resolved.name


def discover(paths: list[Path], report: IndexReport) -> tuple[list[Path], list[Path]]:
    """Files to index, and the roots whose vanished files should be removed from the index."""
    files: list[Path] = []
    roots: list[Path] = []
    for path in paths:
        if not path.exists():
            report.errors.append(f"{path}: no such file or directory")
            continue
        roots.append(path.resolve())
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if any(part.startswith(".") for part in candidate.relative_to(path).parts):
                    continue
                if candidate.is_file():
                    if not _utf8(str(candidate)):  # the store holds names as UTF-8 text
                        report.errors.append(f"{candidate}: skipped, the file name is not UTF-8; rename the file")
                    elif is_supported(candidate):
                        files.append(candidate)
                    else:
                        report.warnings.append(f"{candidate}: skipped, unsupported file type")
        elif is_supported(path):
            files.append(path)
        else:
            report.warnings.append(
                f"{path}: skipped, unsupported file type '{path.suffix or '(none)'}' (use .txt .md .pdf .html)"
            )
    return files, roots


def _utf8(name: str) -> bool:
    """Whether a name from the file system is UTF-8 (its other bytes come as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def make_chunks(doc: LoadedDocument, source: str, path_key: str) -> list[Chunk]:
    return list(iter_chunks(doc, source, path_key))


def iter_chunks(doc: LoadedDocument, source: str, path_key: str) -> Iterator[Chunk]:
    """The document's sentences as chunks, lazily (a big file is never held as a list of sentences)."""
    key = hashlib.sha1(path_key.encode()).hexdigest()[:12]
    for i, s in enumerate(iter_sentences(doc.text, doc.blocks)):
        yield Chunk(
            id=f"{key}-{doc.content_hash[:12]}-{i}",
            text=s.text,
            source=source,
            section=s.section,
            start=s.start,
            end=s.end,
            position=i,
            doc_hash=doc.content_hash,
        )


def embedding_text(chunk: Chunk) -> str:
    """What is embedded: the sentence under its section heading, so the heading's topic carries over."""
    return f"{chunk.section}: {chunk.text}" if chunk.section else chunk.text


def index_paths(
    paths: list[Path], settings: Settings, *, rebuild: bool = False, progress: bool = True, store=None
) -> IndexReport:
    """Index `paths` into the live index. With `rebuild`, into a new generation beside it (with the uploaded
    documents, which belong to the index rather than to any path), made live only once complete: readers keep
    the old index meanwhile, and a killed rebuild leaves it as it was."""
    report = IndexReport()
    live = store or open_store(settings, verify=not rebuild)
    live.drop_other_generations()  # a killed rebuild's, or one a killed rebuild had replaced
    store = live.new_generation() if rebuild else live
    if rebuild and settings.store.uploads_dir.is_dir():
        paths = [*paths, settings.store.uploads_dir]
    files, roots = discover(paths, report)
    known = store.documents(with_text=False)
    # Uploads keep the name they were given through a rebuild (it tells their names apart; see document_service).
    upload_names = {
        key: entry.upload_name
        for key, entry in (live.documents(with_text=False) if rebuild else known).items()
        if entry.upload_name
    }

    def source(path: Path) -> str:
        root = max((r for r in roots if path.resolve().is_relative_to(r)), key=lambda r: len(r.parts), default=None)
        return display_path(path, root, settings.store.data_dir)

    todo: list[Path] = []
    seen: set[str] = set()
    for path in files:
        key = str(path.resolve())
        seen.add(key)
        try:
            content_hash = file_hash(path, settings.limits.max_document_bytes)
        except LoadError as exc:
            report.errors.append(str(exc))
            continue
        entry = known.get(key)
        # An entry named by an absolute path (indexed before sources hid the server's paths) is indexed again.
        if entry and entry.doc_hash == content_hash and not os.path.isabs(entry.source):
            report.unchanged.append(entry.source)
        else:
            todo.append(path)

    if todo:
        items = [(str(path.resolve()), source(path), path) for path in todo]
        write_documents(items, store, settings, report, known, progress, upload_names)

    prefixes = [(str(root), str(root).rstrip(os.sep) + os.sep) for root in roots]

    def under_root(key: str) -> bool:  # string tests: called for every chunk when leftovers are looked for
        return any(key == root or key.startswith(inside) for root, inside in prefixes)

    for key, entry in known.items():
        if under_root(key) and key not in seen and not os.path.exists(key):
            store.remove_document(key)
            report.removed.append(entry.source)
    store.delete_uncommitted(lambda key: key is not None and under_root(key))
    if rebuild and report.errors:  # a rebuild replaces everything: not with an index that misses some of it
        live.drop_other_generations()
        report.errors.append("the rebuild is not used; the previous index is unchanged")
    elif rebuild:
        live.publish(store)
    return report


def file_hash(path: Path, max_bytes: int) -> str:
    """The SHA-256 of the file's bytes (what decides whether it changed), read in pieces; LoadError if it
    cannot be read or is over the size limit."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LoadError(size_refusal(str(path), size, max_bytes))
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise LoadError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def size_refusal(name: str, size: int, max_bytes: int) -> str:
    """The one message for a document over `max_document_bytes`, from any door."""
    return (
        f"{name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB "
        "(max_document_bytes; for `brief index`, --max-bytes N raises it)"
    )


@dataclass
class _Pending:
    """A document whose chunks are being embedded and written; committed once all are stored."""

    key: str
    source: str
    doc: LoadedDocument
    upload_name: str = ""
    n_chunks: int = 0
    n_written: int = 0
    chunked: bool = False


def write_documents(
    items: list[tuple[str, str, LoadedDocument | Path]],
    store: ChunkStore,
    settings: Settings,
    report: IndexReport,
    known: dict[str, ManifestEntry],
    progress: bool,
    upload_names: dict[str, str] | None = None,
) -> None:
    """Chunk, embed and store each (key, source, document or its path), streaming: sentences are embedded
    EMBED_POOL at a time across documents and written as they come, so memory stays bounded whatever the
    corpus or file size. A document's manifest entry is written after all its chunks (the commit), with its
    upload name from `upload_names` (key -> the name an upload was given)."""
    embeddings = load_embeddings(settings.model.embedding_model)
    bar = _Progress(items, enabled=progress)
    pool: list[tuple[_Pending, Chunk]] = []

    def flush() -> None:
        if not pool:
            return
        vectors = embed_texts(embeddings, [embedding_text(c) for _, c in pool])
        by_document: dict[str, tuple[_Pending, list[Chunk], list[int]]] = {}
        for row, (pending, chunk) in enumerate(pool):
            by_document.setdefault(pending.key, (pending, [], []))
            by_document[pending.key][1].append(chunk)
            by_document[pending.key][2].append(row)
        for pending, chunks, rows in by_document.values():
            store.add_chunks(chunks, pending.key, vectors[rows])
            pending.n_written += len(chunks)
            if pending.chunked and pending.n_written == pending.n_chunks:
                _commit(pending, store, report, known)
        bar.update(len(pool))
        pool.clear()

    for key, source, item in items:
        try:
            doc = load_document(item) if isinstance(item, Path) else item
        except LoadError as exc:
            report.errors.append(str(exc))
            bar.next_document()
            continue
        pending = _Pending(key, source, doc, (upload_names or {}).get(key, ""))
        for chunk in iter_chunks(doc, source, key):
            pool.append((pending, chunk))
            pending.n_chunks += 1
            if len(pool) >= EMBED_POOL:
                bar.reading(doc, chunk.end)
                flush()
        pending.chunked = True
        bar.next_document()
        if pending.n_chunks == 0:  # e.g. a manual's contents page: all navigation, nothing to quote
            report.warnings.append(f"{source}: skipped, no sentences to index")
        elif pending.n_written == pending.n_chunks:
            _commit(pending, store, report, known)
    flush()
    bar.close()


def embed_texts(embeddings, texts: list[str]) -> np.ndarray:
    """The texts' vectors as one float32 array: the ONNX embedder's as they come, without a detour through a
    list of Python floats (a pool's would be 786,432 of them)."""
    if isinstance(embeddings, OnnxEmbeddings):
        return embeddings.encode(texts)
    return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)


def _commit(pending: _Pending, store: ChunkStore, report: IndexReport, known: dict[str, ManifestEntry]) -> None:
    doc = pending.doc
    store.commit_document(
        ManifestEntry(
            path=pending.key,
            source=pending.source,
            doc_hash=doc.content_hash,
            n_chunks=pending.n_chunks,
            kind=doc.kind,
            indexed_at=time.time(),
            text=doc.text,
            upload_name=pending.upload_name,
        )
    )
    store.delete_stale_chunks(pending.key, doc.content_hash)
    (report.updated if pending.key in known else report.added).append(pending.source)
    report.chunks_written += pending.n_chunks


def index_document(
    key: str, source: str, doc: LoadedDocument, settings: Settings, store: ChunkStore, *, upload_name: str = ""
) -> IndexReport:
    """Index one loaded document under `key`, which need not hold its bytes yet: an upload is indexed under
    its final path while its bytes wait beside the file they replace (`upload_name`: the name it was given)."""
    report = IndexReport()
    known = store.documents(with_text=False)
    write_documents(
        [(key, source, doc)], store, settings, report, known, progress=False, upload_names={key: upload_name}
    )
    return report


def repair_vectors(settings: Settings, live: ChunkStore, *, progress: bool = False) -> IndexReport | None:
    """Rebuild the index when Chroma can no longer search its vectors (`ChunkStore.vectors_readable`), from
    what the manifest keeps: each committed document is chunked and embedded again into a new generation, from
    its file if the file still holds the indexed bytes, else from the manifest's copy of its text, and the new
    generation is published once whole. None when the vectors were readable: nothing is done. Only for the
    embedded store: a Chroma server keeps its own files, and an error from it may be a passing one that a
    rebuild of every replica's shared index would not mend."""
    if settings.store.chroma_url or live.vectors_readable():
        return None
    report = IndexReport()
    built = live.new_generation()
    items: list[tuple[str, str, LoadedDocument | Path]] = []
    upload_names = {}
    for key, entry in live.documents().items():
        upload_names[key] = entry.upload_name
        path = Path(key)
        try:
            unchanged = path.is_file() and file_hash(path, settings.limits.max_document_bytes) == entry.doc_hash
        except LoadError:
            unchanged = False
        kept = LoadedDocument(path=path, text=entry.text, content_hash=entry.doc_hash, kind=entry.kind)
        items.append((key, entry.source, path if unchanged else kept))
    write_documents(items, built, settings, report, {}, progress, upload_names)
    if report.errors:
        live.drop_other_generations()
        raise StoreError(
            f"{settings.store.data_dir}: the vector index cannot be read and rebuilding it failed: {report.errors[0]}"
        )
    live.publish(built)
    return report


def index_texts(texts: list[tuple[str, str]], settings: Settings, *, progress: bool = True, store=None) -> IndexReport:
    """Index documents that are not files (e.g. SQuAD paragraphs): (source name, text) pairs. The source name
    is the document's key; unchanged texts are skipped."""
    report = IndexReport()
    store = store or open_store(settings)
    known = store.documents(with_text=False)
    todo = []
    for source, text in texts:
        doc = LoadedDocument(
            path=Path(source), text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(), kind="text"
        )
        if source in known and known[source].doc_hash == doc.content_hash:
            report.unchanged.append(source)
        else:
            todo.append((source, source, doc))
    if todo:
        write_documents(todo, store, settings, report, known, progress)
    return report


class _Progress:
    """A tqdm bar counting sentences, with a total estimated from the bytes still to read: a rate and an
    ETA from the first batch on, even for one big file."""

    def __init__(self, items: list, enabled: bool):
        from tqdm import tqdm

        self.sizes = [_size(item) for _, _, item in items]
        self.total_bytes = max(1, sum(self.sizes))
        self.done_bytes = 0  # bytes of the documents finished so far
        self.current = 0  # index of the document being read
        self.read_fraction = 0.0
        self.sentences = 0
        self.bar = tqdm(
            total=max(1, self.total_bytes // 150),  # ~150 bytes a sentence until there is a measurement
            desc="indexing",
            unit=" sentences",
            disable=not enabled,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def reading(self, doc: LoadedDocument, position: int) -> None:
        """`position` characters of `doc`'s text have been chunked."""
        self.read_fraction = min(1.0, position / max(1, len(doc.text)))

    def next_document(self) -> None:
        """The current document is read to its end (or could not be read): once per document."""
        self.done_bytes += self.sizes[self.current]
        self.current += 1
        self.read_fraction = 0.0

    def update(self, n: int) -> None:
        self.sentences += n
        read = self.done_bytes + (
            self.sizes[self.current] * self.read_fraction if self.current < len(self.sizes) else 0
        )
        if read > 0:
            self.bar.total = max(self.sentences, round(self.sentences * self.total_bytes / read))
        self.bar.update(n)

    def close(self) -> None:
        self.bar.total = self.sentences
        self.bar.close()


def _size(item: LoadedDocument | Path) -> int:
    if isinstance(item, Path):
        try:
            return item.stat().st_size
        except OSError:
            return 0
    return len(item.text)
