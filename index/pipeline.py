"""load → normalise → chunk → embed → store, incrementally: unchanged files are skipped, changed files are
replaced, deleted files are removed."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import Settings
from assistant.models import Chunk
from index.chunking import chunk_document
from index.embedder import load_embeddings, model_dimension
from index.loaders import LoadedDocument, LoadError, is_supported, load_document
from index.store import ChunkStore, ManifestEntry


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
    return ChunkStore(settings, settings.embedding_model, model_dimension(settings.embedding_model), verify=verify)


def display_path(path: Path) -> str:
    """The path relative to the working directory when inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


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
                    if is_supported(candidate):
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


def make_chunks(doc: LoadedDocument, source: str, path_key: str) -> list[Chunk]:
    key = hashlib.sha1(path_key.encode()).hexdigest()[:12]
    return [
        Chunk(
            id=f"{key}-{doc.content_hash[:12]}-{i}",
            text=s.text,
            source=source,
            section=s.section,
            start=s.start,
            end=s.end,
            position=i,
            doc_hash=doc.content_hash,
        )
        for i, s in enumerate(chunk_document(doc.text))
    ]


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
    if rebuild and settings.uploads_dir.is_dir():
        paths = [*paths, settings.uploads_dir]
    files, roots = discover(paths, report)
    known = store.documents()

    todo: list[tuple[Path, LoadedDocument]] = []
    seen: set[str] = set()
    for path in files:
        key = str(path.resolve())
        seen.add(key)
        try:
            doc = load_document(path)
        except LoadError as exc:
            report.errors.append(str(exc))
            continue
        entry = known.get(key)
        if entry and entry.doc_hash == doc.content_hash:
            report.unchanged.append(display_path(path))
        else:
            todo.append((path, doc))

    if todo:
        items = [(str(path.resolve()), display_path(path), doc) for path, doc in todo]
        write_documents(items, store, settings, report, known, progress)

    def under_root(key: str) -> bool:
        return any(Path(key) == root or Path(key).is_relative_to(root) for root in roots)

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


def write_documents(
    items: list[tuple[str, str, LoadedDocument]],
    store: ChunkStore,
    settings: Settings,
    report: IndexReport,
    known: dict[str, ManifestEntry],
    progress: bool,
) -> None:
    """Chunk, embed and store each (key, source, document); the manifest entry is written last (the commit)."""
    embeddings = load_embeddings(settings.embedding_model)
    for key, source, doc in _progress(items, progress):
        chunks = make_chunks(doc, source, key)
        if not chunks:
            report.errors.append(f"{source}: no sentences found")
            continue
        vectors = embeddings.embed_documents([embedding_text(c) for c in chunks])
        store.add_chunks(chunks, key, vectors)
        store.commit_document(
            ManifestEntry(
                path=key,
                source=source,
                doc_hash=doc.content_hash,
                n_chunks=len(chunks),
                kind=doc.kind,
                indexed_at=time.time(),
                text=doc.text,
            )
        )
        store.delete_stale_chunks(key, doc.content_hash)
        (report.updated if key in known else report.added).append(source)
        report.chunks_written += len(chunks)


def index_document(key: str, source: str, doc: LoadedDocument, settings: Settings, store: ChunkStore) -> IndexReport:
    """Index one loaded document under `key`, which need not hold its bytes yet: an upload is indexed under
    its final path while its bytes wait beside the file they replace."""
    report = IndexReport()
    write_documents([(key, source, doc)], store, settings, report, store.documents(), progress=False)
    return report


def index_texts(texts: list[tuple[str, str]], settings: Settings, *, progress: bool = True, store=None) -> IndexReport:
    """Index documents that are not files (e.g. SQuAD paragraphs): (source name, text) pairs. The source name
    is the document's key; unchanged texts are skipped."""
    report = IndexReport()
    store = store or open_store(settings)
    known = store.documents()
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


def _progress(items, enabled: bool):
    from tqdm import tqdm

    return tqdm(items, desc="indexing", unit="file", disable=not enabled or len(items) < 2, file=sys.stderr)
