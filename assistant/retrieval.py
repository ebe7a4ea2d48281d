"""Hybrid retrieval at sentence level: dense search in Chroma plus BM25 (SQLite FTS5), fused by reciprocal rank.

The Chroma store is the source of truth; the lexical index is a cache of it on local disk, synced before each
search by comparing the store's manifest with the versions the cache holds and fetching only the documents
that changed. So an upload is searchable at once without reloading the corpus, a cache left behind by a killed
process or by another replica's changes is brought up to date on its next use, and replicas that share one
Chroma server each keep their own cache.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from assistant.answers import Evidence
from assistant.grounding import rrf_fuse
from index.lexical import LexicalIndex, LexicalSync, lexical_index_path
from kernel.settings import RetrievalSettings, Settings
from kernel.types import Chunk

# How old the manifest read before a search may be. Reading it costs tens of milliseconds with 1,500 documents;
# a change made through this process's store is seen at once, another process's (`brief index`, another
# replica) within this time.
MANIFEST_MAX_AGE_S = 1.0


def make_retriever(settings: Settings, store, embeddings) -> HybridRetriever:
    """The retriever over `store`, given only its part of the settings, with the lexical cache of the store's
    collection."""
    return HybridRetriever(settings.retrieval, store, embeddings, LexicalIndex(lexical_index_path(settings.store)))


class HybridRetriever:
    def __init__(self, retrieval: RetrievalSettings, store, embeddings, lexical: LexicalIndex):
        self.retrieval = retrieval
        self.store = store
        self.embeddings = embeddings
        self.lexical = lexical
        self._lexical_sync = LexicalSync(store, lexical)
        self._manifest_lock = threading.Lock()
        self._manifest: dict | None = None
        self._manifest_key: tuple[int, float] = (-1, 0.0)  # (store.local_changes, time read)

    def manifest(self) -> dict:
        """The store's committed entries (without text), re-read when this process changed the store or
        after MANIFEST_MAX_AGE_S."""
        with self._manifest_lock:
            changes, read_at = self._manifest_key
            now = time.monotonic()
            if self._manifest is None or changes != self.store.local_changes or now - read_at > MANIFEST_MAX_AGE_S:
                self._manifest_key = (self.store.local_changes, now)  # before reading: a commit meanwhile re-reads
                self._manifest = self.store.documents(with_text=False)
            return self._manifest

    def sync(self, manifest=None) -> list[str]:
        """Bring the lexical index up to date with the store's committed documents (`LexicalSync.sync`);
        returns the paths fetched from the store."""
        return self._lexical_sync.sync(manifest)

    def previous(self, chunk: Chunk) -> Chunk | None:
        """The sentence before `chunk` in the same document, if any."""
        return self.lexical.previous(chunk.id)

    def opening(self, chunk: Chunk, question: str) -> Evidence | None:
        """The opening sentence of `chunk`'s document as evidence for `question` (scored like a retrieved one)."""
        chunk = self.lexical.first(chunk.id)
        if chunk is None:
            return None
        from index.pipeline import embedding_text

        vector, sentence = self.embeddings.embed_documents([question, embedding_text(chunk)])
        return Evidence(
            chunk=chunk,
            quote=self.lexical.quote(chunk.id) or chunk.text,
            score=round(float(np.dot(vector, sentence)), 4),
        )

    def whole(self, max_chars: int, retrieved: list[Evidence]) -> list[Evidence] | None:
        """Every indexed sentence in document order when the collection holds at most `max_chars` characters,
        else None; call it after `retrieve` (which syncs the lexical index). Sentences `retrieved` keep their
        evidence and scores; the others score 0."""
        chunks = self.lexical.all_sentences(max_chars)
        if chunks is None:
            return None
        known = {e.chunk.id: e for e in retrieved}
        return [
            known.get(c.id) or Evidence(chunk=c, quote=self.lexical.quote(c.id) or c.text, score=0.0) for c in chunks
        ]

    def retrieve(self, queries: str | list[str], k: int | None = None) -> list[Evidence]:
        """The best `k` sentences, best first, fusing a dense and a BM25 ranking for each query. Scores are
        the dense cosine similarity to the first query."""
        from index.pipeline import embedding_text

        s = self.retrieval
        k = k or s.evidence_k
        queries = [queries] if isinstance(queries, str) else queries
        manifest = self.manifest()
        self.sync(manifest)
        if not manifest:
            return []
        vectors = (
            self.embeddings.embed_documents(queries) if len(queries) > 1 else [self.embeddings.embed_query(queries[0])]
        )
        rankings: list[list[str]] = []
        found: dict[str, Chunk] = {}
        dense_score: dict[str, float] = {}
        dense_rank: dict[str, int] = {}
        lexical_rank: dict[str, int] = {}
        for n, (query, vector) in enumerate(zip(queries, vectors, strict=True)):
            dense = self.store.query(vector, s.dense_k, manifest)
            lexical = self.lexical.search(query, s.lexical_k)
            found |= {c.id: c for c, _ in dense} | {c.id: c for c, _ in lexical}
            rankings += [[c.id for c, _ in dense], [c.id for c, _ in lexical]]
            if n == 0:
                dense_score = {c.id: score for c, score in dense}
                dense_rank = {c.id: r for r, (c, _) in enumerate(dense, start=1)}
                lexical_rank = {c.id: r for r, (c, _) in enumerate(lexical, start=1)}
        fused = rrf_fuse(rankings, s.rrf_k)[:k]
        missing = [cid for cid, _ in fused if cid not in dense_score]
        if missing:
            texts = [embedding_text(found[cid]) for cid in missing]
            for cid, vec in zip(missing, self.embeddings.embed_documents(texts), strict=True):
                dense_score[cid] = float(np.dot(vectors[0], vec))
        return [
            Evidence(
                chunk=found[cid],
                quote=self.lexical.quote(cid) or found[cid].text,
                score=round(dense_score.get(cid, 0.0), 4),
                fused=round(fused_score, 5),
                dense_rank=dense_rank.get(cid),
                lexical_rank=lexical_rank.get(cid),
            )
            for cid, fused_score in fused
        ]
