"""Adding and removing documents while the assistant runs: the one implementation behind the web chat's
Documents panel and the API's /api/documents, so both check, save and roll back the same way.

An upload is checked (type, size, parseable text) before anything is written; then saved under
`settings.uploads_dir` by a sanitised name and indexed. If indexing fails, the file and the index are put back
as they were (the previous version of a replaced file is restored and re-indexed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.config import Settings
from index.loaders import SUPPORTED_SUFFIXES, LoadError, load_document
from index.pipeline import size_refusal
from index.store import ManifestEntry

UPLOAD_SUFFIXES = (".txt", ".md", ".pdf", ".html")  # what the pages advertise; .markdown/.htm also load

_index_lock = threading.Lock()  # one upload or removal at a time: each rewrites part of the index


class UploadRefused(ValueError):
    """An upload that is refused before or while indexing; the message is for the user. Nothing changed."""


@dataclass(frozen=True)
class AddedDocument:
    entry: ManifestEntry
    name: str  # the sanitised file name it was saved as
    unchanged: bool  # the same bytes were already indexed under that name


def safe_filename(name: str) -> str:
    """The basename with only [A-Za-z0-9._-] kept, no leading dots, at most ~100 characters."""
    base = os.path.basename(str(name or "").replace("\\", "/"))
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:90] or "document"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def document_id(path_key: str) -> str:
    """A short stable id for an indexed document (its path key), safe to put in a URL."""
    return hashlib.sha1(path_key.encode()).hexdigest()[:12]


def check_upload(filename: str, data: bytes, settings: Settings) -> str:
    """The sanitised name to save `data` under; UploadRefused (nothing written) if it cannot be indexed."""
    name = safe_filename(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadRefused(
            f"{filename}: unsupported file type '{suffix or '(none)'}'; use {' '.join(UPLOAD_SUFFIXES)}"
        )
    if len(data) > settings.max_document_bytes:
        raise UploadRefused(size_refusal(filename, len(data), settings.max_document_bytes))
    try:
        load_document(Path(name), data=data)
    except LoadError as exc:
        raise UploadRefused(str(exc)) from exc
    return name


def add_document(store, settings: Settings, filename: str, data: bytes) -> AddedDocument:
    """Check, save and index one uploaded file; on any failure the files and the index stay as they were."""
    from index.pipeline import index_paths

    name = check_upload(filename, data, settings)
    uploads = Path(settings.uploads_dir)
    uploads.mkdir(parents=True, exist_ok=True)
    target = (uploads / name).resolve()
    with _index_lock:
        previous = target.read_bytes() if target.exists() else None
        _write_atomically(target, data)
        try:
            report = index_paths([target], settings, progress=False, store=store)
            if report.errors:
                raise UploadRefused("; ".join(report.errors))
        except BaseException:
            if previous is None:
                target.unlink(missing_ok=True)
                with contextlib.suppress(Exception):
                    store.remove_document(str(target))
            else:
                _write_atomically(target, previous)
                with contextlib.suppress(Exception):
                    index_paths([target], settings, progress=False, store=store)
            raise
        entry = store.documents().get(str(target))
    if entry is None:
        raise UploadRefused(f"{filename}: nothing could be indexed from the file")
    return AddedDocument(entry=entry, name=name, unchanged=bool(report.unchanged))


def remove_document(store, settings: Settings, path_key: str) -> ManifestEntry | None:
    """Remove a document from the index, and its file when it was uploaded; None if it was not indexed."""
    with _index_lock:
        entry = store.documents().get(path_key)
        if entry is None:
            return None
        store.remove_document(path_key)
        if Path(path_key).parent == Path(settings.uploads_dir).resolve():
            Path(path_key).unlink(missing_ok=True)
    return entry


def _write_atomically(target: Path, data: bytes) -> None:
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(partial, target)
