"""The Chroma store: one collection of sentence chunks plus a manifest collection that records which version
of each document is complete.

The manifest is the commit record. A document's chunks are written first and its manifest entry last, and
readers only see chunks whose (path, doc_hash) the manifest names; so a run killed half-way leaves the
previous index intact, and the next run replaces the half-written chunks.

A rebuild writes a new generation of both collections beside the live one and switches to it only when it is
complete, by changing the metadata of a small pointer collection (`<collection>__live`, {"generation": n}).
That is one record in Chroma's own catalogue, so the switch is atomic, and every reader sees it, whether the
store is embedded or a Chroma server on another machine (a file in the data dir would serve only the former).
Generation 1 is the plain collection names, so a store without a pointer (built before generations) is live
as it is.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

from kernel.settings import StoreSettings
from kernel.types import Chunk

MANIFEST_SUFFIX = "__manifest"
# Rows read per `get`: Chroma binds one SQL variable per row, and SQLite allows 32,766 in one statement.
READ_PAGE = 5000
PROBE_ID = "__probe__"  # an id no sentence has: `vectors_readable` deletes it to make Chroma apply its log
POINTER_SUFFIX = "__live"  # the collection whose metadata names the live generation
GENERATION_INFIX = "__g"  # generation n > 1 is "<collection>__g<n>" (and its manifest)


class StoreError(RuntimeError):
    """The store cannot be used as configured; the message says what to do."""


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # absolute path, the document's key
    source: str  # path as shown to users
    doc_hash: str
    n_chunks: int
    kind: str
    indexed_at: float
    text: str  # the document's text: citations' offsets index into it
    upload_name: str = ""  # an upload's file name as the user gave it ("" for indexed files and older uploads)

    @property
    def version(self) -> str:
        """Changes at every commit of the document, even of unchanged content (a rebuild)."""
        return f"{self.doc_hash}@{self.indexed_at}"


def make_client(settings: StoreSettings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise StoreError(f"chroma_url '{settings.chroma_url}' is not an http(s)://host:port URL")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises several types for an unreachable server
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def generation_names(collection: str, generation: int) -> tuple[str, str]:
    """The (chunks, manifest) collection names of one generation of the index."""
    base = collection if generation == 1 else f"{collection}{GENERATION_INFIX}{generation}"
    return base, base + MANIFEST_SUFFIX


class ChunkStore:
    """Sentence chunks in a Chroma collection, and the manifest beside them: the live generation, or with
    `generation` given, another one (a rebuild's, until `publish` makes it live)."""

    def __init__(
        self,
        settings: StoreSettings,
        embedding_name: str,
        dimension: int,
        *,
        generation: int | None = None,
        verify: bool = True,
    ):
        self.settings = settings
        self.client = make_client(settings)
        self.identity = {"embedding_model": embedding_name, "embedding_dim": dimension, "hnsw:space": "cosine"}
        self.follows_pointer = generation is None
        self._open(self.live_generation() if generation is None else generation, verify=verify)

    def _open(self, generation: int, verify: bool = True) -> None:
        chunks_name, manifest_name = generation_names(self.settings.collection, generation)
        self.chunks = self.client.get_or_create_collection(chunks_name, embedding_function=None, metadata=self.identity)
        if verify:
            self._check_identity(self.identity)
        self.manifest = self.client.get_or_create_collection(
            manifest_name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        self.local_changes = 0  # commits and removals through this object: caches of the manifest check it
        self.generation = generation

    def _check_identity(self, expected: dict) -> None:
        found = self.chunks.metadata or {}
        for key in ("embedding_model", "embedding_dim"):
            if key in found and found[key] != expected[key]:
                raise StoreError(
                    f"collection '{self.settings.collection}' was built with {key}={found[key]!r}, but the "
                    f"configuration uses {expected[key]!r}; re-index with `brief index --rebuild`"
                )

    # Generations --------------------------------------------------------------------------------------
    def live_generation(self) -> int:
        from chromadb.errors import NotFoundError

        try:
            pointer = self.client.get_collection(self.settings.collection + POINTER_SUFFIX)
        except NotFoundError:
            return 1
        return int((pointer.metadata or {}).get("generation", 1))

    def _follow_pointer(self) -> None:
        """Switch to the live generation if a rebuild (in any process) has published a new one."""
        if self.follows_pointer:
            live = self.live_generation()
            if live != self.generation:
                self._open(live)

    def _generations(self) -> set[int]:
        """The generations that have collections in the store, live or not."""
        pattern = re.compile(
            rf"{re.escape(self.settings.collection)}(?:{GENERATION_INFIX}(\d+))?(?:{MANIFEST_SUFFIX})?"
        )
        found = set()
        for collection in self.client.list_collections():
            match = pattern.fullmatch(collection.name)
            if match:
                found.add(int(match.group(1) or 1))
        return found

    def new_generation(self) -> ChunkStore:
        """An empty generation beside the live one, for a rebuild; readers do not see it until `publish`."""
        number = max(self._generations() | {self.live_generation()}) + 1
        return ChunkStore(
            self.settings, self.identity["embedding_model"], self.identity["embedding_dim"], generation=number
        )

    def publish(self, built: ChunkStore) -> None:
        """Make `built` the live generation (one atomic metadata change), then delete the one it replaces."""
        name = self.settings.collection + POINTER_SUFFIX
        pointer = self.client.get_or_create_collection(
            name, embedding_function=None, metadata={"generation": built.generation}
        )
        pointer.modify(metadata={"generation": built.generation})
        self._follow_pointer()
        self.drop_other_generations()

    def drop_other_generations(self) -> None:
        """Delete every generation but the live one: the one a rebuild replaced, or a rebuild's that was killed
        before it was published. Only writers call this (a rebuild may be running in no other process)."""
        live = self.live_generation()
        for generation in self._generations() - {live}:
            for name in generation_names(self.settings.collection, generation):
                with contextlib.suppress(Exception):  # absent already
                    self.client.delete_collection(name)

    # Manifest -----------------------------------------------------------------------------------------
    def documents(self, with_text: bool = True) -> dict[str, ManifestEntry]:
        """Every complete document; without `with_text` their texts are left empty (much less to read)."""
        self._follow_pointer()
        entries = {}
        for page in _pages(self.manifest, ["metadatas", "documents"] if with_text else ["metadatas"]):
            texts = page["documents"] if with_text else [""] * len(page["ids"])
            for meta, text in zip(page["metadatas"], texts, strict=True):
                entry = ManifestEntry(text=text or "", **json.loads(meta["entry"]))
                entries[entry.path] = entry
        return entries

    def committed(self) -> dict[str, str]:
        """path -> doc_hash of every complete document, without reading the documents' texts."""
        return {p: e.doc_hash for p, e in self.documents(with_text=False).items()}

    def commit_document(self, entry: ManifestEntry) -> None:
        fields = {k: v for k, v in entry.__dict__.items() if k != "text"}
        self.manifest.upsert(
            ids=[entry.path],
            embeddings=[[1.0]],
            documents=[entry.text],
            metadatas=[{"entry": json.dumps(fields)}],
        )
        self.local_changes += 1

    # Chunks -------------------------------------------------------------------------------------------
    def add_chunks(self, chunks: list[Chunk], path: str, vectors: np.ndarray | list[list[float]]) -> None:
        if not chunks:
            return
        metadatas = [
            {
                "source": c.source,
                "path": path,
                "section": c.section,
                "start": c.start,
                "end": c.end,
                "position": c.position,
                "doc_hash": c.doc_hash,
            }
            for c in chunks
        ]
        self.chunks.upsert(
            ids=[c.id for c in chunks],
            embeddings=vectors,
            documents=[c.text for c in chunks],
            metadatas=metadatas,
        )

    def delete_stale_chunks(self, path: str, keep_hash: str | None) -> None:
        """Remove the chunks of `path` that do not belong to version `keep_hash` (all of them if None)."""
        where: dict = {"path": path}
        if keep_hash is not None:
            where = {"$and": [{"path": path}, {"doc_hash": {"$ne": keep_hash}}]}
        self.chunks.delete(where=where)

    def delete_uncommitted(self, covers: Callable[[str], bool]) -> int:
        """Delete the chunks of paths that `covers` whose version the manifest does not name: what a run killed
        between a commit and its clean-up, or between a removal's two steps, left behind. How many.

        Each committed document has exactly `n_chunks` chunks of its version (their ids are numbered), so when the
        collection holds no more chunks than that in all, nothing was left behind and no chunk is read: a run
        that adds one file to a big index does not read every chunk's metadata. Another writer at work between
        the two reads can make them differ (a full check) or, rarely, hide a leftover until the next run; readers
        never see leftovers (they read committed versions only), so that costs space, not correctness."""
        total = self.chunks.count()
        entries = self.documents(with_text=False)
        if total == sum(e.n_chunks for e in entries.values()):
            return 0
        committed = {p: e.doc_hash for p, e in entries.items()}
        doomed = [
            cid
            for page in _pages(self.chunks, ["metadatas"])
            for cid, meta in zip(page["ids"], page["metadatas"], strict=True)
            if covers(meta.get("path")) and committed.get(meta.get("path")) != meta.get("doc_hash")
        ]
        for start in range(0, len(doomed), READ_PAGE):
            self.chunks.delete(ids=doomed[start : start + READ_PAGE])
        return len(doomed)

    def remove_document(self, path: str) -> None:
        self.manifest.delete(ids=[path])
        self.local_changes += 1
        self.delete_stale_chunks(path, None)

    def all_chunks(self) -> list[Chunk]:
        """Every committed chunk (orphans of an interrupted run are left out)."""
        committed = self.committed()
        chunks = [
            _to_chunk(cid, text, meta)
            for page in _pages(self.chunks, ["documents", "metadatas"])
            for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            if committed.get(meta.get("path")) == meta.get("doc_hash")
        ]
        chunks.sort(key=lambda c: (c.source, c.position))
        return chunks

    def committed_document(self, path: str) -> tuple[ManifestEntry, list[Chunk]] | None:
        """One committed document's manifest entry and chunks in order, or None if it is not committed (or
        was replaced while being read)."""
        got = self.manifest.get(ids=[path], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        entry = ManifestEntry(text=got["documents"][0] or "", **json.loads(got["metadatas"][0]["entry"]))
        where = {"$and": [{"path": path}, {"doc_hash": entry.doc_hash}]}
        chunks = sorted(
            (
                _to_chunk(cid, text, meta)
                for page in _pages(self.chunks, ["documents", "metadatas"], where)
                for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            ),
            key=lambda c: c.position,
        )
        return (entry, chunks) if len(chunks) == entry.n_chunks else None

    def query(
        self, vector: list[float], k: int, manifest: dict[str, ManifestEntry] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Top-k committed chunks by cosine similarity (`manifest`: documents(with_text=False), if already read)."""
        committed = self.committed() if manifest is None else {p: e.doc_hash for p, e in manifest.items()}
        from chromadb.errors import ChromaError  # loaded with the client: here it costs nothing

        try:
            total = self.chunks.count()  # fails too when Chroma cannot apply its log
            if total == 0:
                return []
            got = self.chunks.query(
                query_embeddings=[vector],
                n_results=min(total, k * 2 + 8),
                include=["documents", "metadatas", "distances"],
            )
        except ChromaError as exc:  # see vectors_readable
            raise StoreError(
                f"the vector index in {self.settings.data_dir} cannot be searched ({exc}); `brief index` or "
                "`brief serve` rebuilds it from the documents it holds (`brief index --rebuild PATHS` from the files)"
            ) from exc
        hits = []
        for cid, text, meta, dist in zip(
            got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
        ):
            # A sentence deleted while Chroma searched (its document removed or replaced meanwhile) can come
            # back as its id without metadata or text: it is no longer committed, so it is no hit.
            if meta is None or text is None or dist is None:
                continue
            if committed.get(meta.get("path")) == meta.get("doc_hash"):
                hits.append((_to_chunk(cid, text, meta), 1.0 - float(dist)))
        return hits[:k]

    def count(self) -> int:
        self._follow_pointer()
        return self.chunks.count()

    def vectors_readable(self, probes: int = 4, depth: int = 100) -> bool:
        """Whether Chroma can search this generation's vectors. A process killed while Chroma writes its HNSW
        files can leave them torn, and later searches or deletes then fail inside Chroma
        (chroma-core/chroma#7238, #7678); the sentences and the manifest live in SQLite and survive it. The
        probes search `depth` deep from a few directions, so that they walk much of the graph (a shallow search
        can miss a tear), and delete an id no sentence has, which makes Chroma apply its pending log."""
        from chromadb.errors import ChromaError

        dimension = self.identity["embedding_dim"]
        directions = [[(-1.0) ** n if i == n // 2 else 0.0 for i in range(dimension)] for n in range(probes)]
        try:
            total = self.chunks.count()  # a count too makes Chroma apply its pending log first
            if total == 0:
                return True
            self.chunks.query(query_embeddings=directions, n_results=min(total, depth), include=[])
            self.chunks.delete(ids=[PROBE_ID])
        except ChromaError:
            return False
        return True

    def version(self) -> str:
        """Changes whenever a document is committed or removed, or a rebuild is published; readers use it to
        refresh caches."""
        return json.dumps([self.generation, sorted(self.committed().items())])


def _pages(collection, include: list[str], where: dict | None = None):
    """Every row of `collection` (matching `where`), READ_PAGE at a time: one `get` of more rows than SQLite
    binds variables in a statement fails, and one document of a big file can have that many sentences."""
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=READ_PAGE, offset=offset)
        if not page["ids"]:
            return
        yield page
        offset += len(page["ids"])


def _to_chunk(cid: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        id=cid,
        text=text,
        source=meta["source"],
        section=meta.get("section", ""),
        start=int(meta["start"]),
        end=int(meta["end"]),
        position=int(meta.get("position", 0)),
        doc_hash=meta.get("doc_hash", ""),
    )
