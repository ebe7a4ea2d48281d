"""Hybrid retrieval at sentence level: dense search in Chroma plus BM25 in memory, fused by reciprocal rank."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from assistant.config import Settings
from assistant.grounding import rrf_fuse
from assistant.lexical import BM25
from assistant.models import Chunk, Evidence


@dataclass
class CorpusView:
    """Everything the lexical side needs, rebuilt when the store's contents change."""

    version: str
    chunks: list[Chunk]
    by_id: dict[str, int]
    bm25: BM25
    texts: dict[str, str]  # path -> document text, for quotes


class HybridRetriever:
    def __init__(self, settings: Settings, store, embeddings):
        self.settings = settings
        self.store = store
        self.embeddings = embeddings
        self._view: CorpusView | None = None
        self._lock = threading.Lock()

    def view(self) -> CorpusView:
        version = self.store.version()
        with self._lock:
            if self._view is None or self._view.version != version:
                from index.pipeline import embedding_text

                chunks = self.store.all_chunks()
                docs = self.store.documents()
                self._view = CorpusView(
                    version=version,
                    chunks=chunks,
                    by_id={c.id: i for i, c in enumerate(chunks)},
                    bm25=BM25([embedding_text(c) for c in chunks]),
                    texts={e.source: e.text for e in docs.values()},
                )
            return self._view

    def previous(self, chunk: Chunk) -> Chunk | None:
        """The sentence before `chunk` in the same document, if any."""
        view = self.view()
        index = view.by_id.get(chunk.id)
        if not index:
            return None
        before = view.chunks[index - 1]
        return before if before.source == chunk.source else None

    def retrieve(self, queries: str | list[str], k: int | None = None) -> list[Evidence]:
        """The best `k` sentences, best first, fusing a dense and a BM25 ranking for each query. Scores are
        the dense cosine similarity to the first query."""
        from index.pipeline import embedding_text

        s = self.settings
        k = k or s.evidence_k
        queries = [queries] if isinstance(queries, str) else queries
        view = self.view()
        if not view.chunks:
            return []
        vectors = (
            self.embeddings.embed_documents(queries) if len(queries) > 1 else [self.embeddings.embed_query(queries[0])]
        )
        rankings: list[list[str]] = []
        dense_score: dict[str, float] = {}
        dense_rank: dict[str, int] = {}
        lexical_rank: dict[str, int] = {}
        for n, (query, vector) in enumerate(zip(queries, vectors, strict=True)):
            dense = self.store.query(vector, s.dense_k)
            lexical = [view.chunks[i].id for i, _ in view.bm25.top(query, s.lexical_k)]
            rankings += [[c.id for c, _ in dense], lexical]
            if n == 0:
                dense_score = {c.id: score for c, score in dense}
                dense_rank = {c.id: r for r, (c, _) in enumerate(dense, start=1)}
                lexical_rank = {cid: r for r, cid in enumerate(lexical, start=1)}
        fused = rrf_fuse(rankings, s.rrf_k)
        missing = [cid for cid, _ in fused[:k] if cid not in dense_score and cid in view.by_id]
        if missing:
            texts = [embedding_text(view.chunks[view.by_id[cid]]) for cid in missing]
            for cid, vec in zip(missing, self.embeddings.embed_documents(texts), strict=True):
                dense_score[cid] = float(np.dot(vectors[0], vec))
        out = []
        for cid, fused_score in fused[:k]:
            if cid not in view.by_id:
                continue
            chunk = view.chunks[view.by_id[cid]]
            source_text = view.texts.get(chunk.source, "")
            out.append(
                Evidence(
                    chunk=chunk,
                    quote=source_text[chunk.start : chunk.end] or chunk.text,
                    score=round(dense_score.get(cid, 0.0), 4),
                    fused=round(fused_score, 5),
                    dense_rank=dense_rank.get(cid),
                    lexical_rank=lexical_rank.get(cid),
                )
            )
        return out
