"""Does a sentence's context, or a fusion learned from data, rank the gold sentence higher than the dense search?

Reads every committed sentence and its vector from an index, then ranks the sentences for each answerable
question of a set in several ways, with no model call beyond embedding the question:

- dense: cosine similarity to the sentence (what Chroma returns);
- dense plus w times the similarity to the mean vector of the sentence's page, of its section, or of the page's
  first three sentences; and a window vector (the sentence plus half of each neighbour);
- fused: the retriever's reciprocal-rank fusion of the dense and BM25 top 20;
- learned: a logistic regression over the dense and BM25 candidates (the top 100 of each) with 13 features
  (dense score, the context similarities, both ranks, BM25 score, length, positions, question words in the
  sentence and its section). It is cross-fitted by manual: trained on the questions whose gold page is in one
  manual, scored on the other's, both ways, so no question is scored by a model that saw it.

    .venv/bin/python scripts/context_rankings.py questions/docs-dev.jsonl --data-dir D

Prints the share of questions whose gold sentence is within the top 1, 5, 10, 20 and 50 for each ranking.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEPTHS = (1, 5, 10, 20, 50)
POOL = 100  # candidates of each search the learned fusion reorders
FUSED_K = 20  # as the retriever's dense_k and lexical_k


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-9)


class Corpus:
    """Every committed sentence of the index, in document order, with its vector and context vectors."""

    def __init__(self, store, batch: int = 5000):
        self.chunks = store.all_chunks()
        vectors: dict[str, list[float]] = {}
        for n in range(0, len(self.chunks), batch):
            got = store.chunks.get(ids=[c.id for c in self.chunks[n : n + batch]], include=["embeddings"])
            vectors |= dict(zip(got["ids"], got["embeddings"], strict=True))
        self.vectors = np.asarray([vectors[c.id] for c in self.chunks], dtype=np.float32)
        self.row = {c.id: i for i, c in enumerate(self.chunks)}
        sources = np.array([c.source for c in self.chunks])
        pages: dict[str, list[int]] = defaultdict(list)
        sections: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, c in enumerate(self.chunks):
            pages[c.source].append(i)
            sections[(c.source, c.section)].append(i)
        self.page_mean, self.page_intro, self.section_mean = (np.zeros_like(self.vectors) for _ in range(3))
        self.section_position = np.zeros(len(self.chunks))
        for rows in pages.values():
            self.page_mean[rows] = self.vectors[rows].mean(0)
            self.page_intro[rows] = self.vectors[rows[:3]].mean(0)
        for rows in sections.values():
            self.section_mean[rows] = self.vectors[rows].mean(0)
            self.section_position[rows] = np.arange(len(rows))
        same_before = np.r_[False, sources[1:] == sources[:-1]][:, None]
        same_after = np.r_[sources[:-1] == sources[1:], False][:, None]
        before = np.where(same_before, np.roll(self.vectors, 1, 0), 0)
        after = np.where(same_after, np.roll(self.vectors, -1, 0), 0)
        self.window = unit(self.vectors + 0.5 * before + 0.5 * after)
        self.page_mean, self.page_intro, self.section_mean = map(
            unit, (self.page_mean, self.page_intro, self.section_mean)
        )


def features(corpus: Corpus, lexical, question: str, q: np.ndarray) -> tuple[list[int], np.ndarray, list[int]]:
    """The candidates (dense and BM25 top POOL), their feature rows, and the retriever's fused order."""
    from assistant.grounding import rrf_fuse
    from index.lexical import bm25_tokens

    dense = corpus.vectors @ q
    top = np.argpartition(-dense, POOL)[:POOL]
    dense_rank = {int(i): r for r, i in enumerate(top[np.argsort(-dense[top])], start=1)}
    hits = [(corpus.row[c.id], s) for c, s in lexical.search(question, POOL) if c.id in corpus.row]
    lexical_rank = {i: r for r, (i, _) in enumerate(hits, start=1)}
    lexical_score = dict(hits)
    candidates = list(dict.fromkeys([*dense_rank, *lexical_rank]))
    words = set(bm25_tokens(question))
    rows = []
    for i in candidates:
        chunk = corpus.chunks[i]
        in_text, in_section = set(bm25_tokens(chunk.text)), set(bm25_tokens(chunk.section))
        rows.append(
            [
                dense[i],
                corpus.page_mean[i] @ q,
                corpus.section_mean[i] @ q,
                corpus.window[i] @ q,
                1 / math.log2(1 + dense_rank.get(i, 2 * POOL)),
                1 / math.log2(1 + lexical_rank.get(i, 2 * POOL)),
                abs(lexical_score.get(i, 0.0)),
                math.log1p(len(chunk.text.split())),
                math.log1p(chunk.position),
                math.log1p(corpus.section_position[i]),
                len(words & in_text) / max(1, len(words)),
                len(words & in_section) / max(1, len(words)),
                len(words & (in_text | in_section)) / max(1, len(words)),
            ]
        )
    by_dense = sorted((i for i in dense_rank if dense_rank[i] <= FUSED_K), key=dense_rank.get)
    by_lexical = sorted((i for i in lexical_rank if lexical_rank[i] <= FUSED_K), key=lexical_rank.get)
    fused = [int(i) for i, _ in rrf_fuse([[str(i) for i in by_dense], [str(i) for i in by_lexical]], 10)]
    return candidates, np.asarray(rows), fused


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--data-dir", help="the index to read (default: the configured data dir)")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from assistant import Assistant, load_settings
    from workbench.evaluation import SourceReader, gold_rank, load_questions

    assistant = Assistant(load_settings(**({"data_dir": args.data_dir} if args.data_dir else {})))
    assistant.retriever.sync()
    read_source = SourceReader(assistant.documents.texts())
    corpus = Corpus(assistant.store)
    items = [item for item in load_questions(args.questions) if item.answerable and item.gold_quotes]
    lines = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    manual_of = {line["id"]: line.get("gold_source", "").split("/")[0] for line in lines}

    def rank(order, item) -> int | None:
        chunks = [corpus.chunks[i] for i in order[:50]]
        return gold_rank([{"source": c.source, "start": c.start, "end": c.end} for c in chunks], item, read_source)

    scored = {}
    data = []
    for item in items:
        q = np.asarray(assistant.embeddings.embed_query(item.question), dtype=np.float32)
        dense = corpus.vectors @ q
        context = {
            "page": corpus.page_mean @ q,
            "section": corpus.section_mean @ q,
            "page intro": corpus.page_intro @ q,
        }
        rankings = {"dense": dense, "window": corpus.window @ q}
        for name, similarity in context.items():
            for w in (0.25, 0.5, 1.0):
                rankings[f"dense + {w} x {name}"] = dense + w * similarity
        for name, score in rankings.items():
            top = np.argpartition(-score, 50)[:50]
            scored.setdefault(name, []).append(rank(top[np.argsort(-score[top])], item))
        candidates, rows, fused = features(corpus, assistant.retriever.lexical, item.question, q)
        scored.setdefault("fused (RRF, 20 + 20)", []).append(rank(fused, item))
        labels = np.array([rank([c], item) == 1 for c in candidates])
        data.append((item, manual_of[item.id], candidates, rows, labels))

    manuals = sorted({d[1] for d in data})
    learned: dict[str, int | None] = {}
    for held_out in manuals:
        train = [d for d in data if d[1] != held_out]
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
        model.fit(np.vstack([d[3] for d in train]), np.concatenate([d[4] for d in train]))
        for item, manual, candidates, rows, _ in data:
            if manual == held_out:
                order = [candidates[i] for i in np.argsort(-model.decision_function(rows))]
                learned[item.id] = rank(order, item)
    scored[f"learned fusion (cross-fitted over {len(manuals)} manuals)"] = [learned[d[0].id] for d in data]

    print(f"{len(items)} answerable questions of {args.questions}; share with the gold sentence within the top k")
    print("| ranking | " + " | ".join(f"@{k}" for k in DEPTHS) + " |")
    print("| --- |" + " --- |" * len(DEPTHS))
    for name, ranks in scored.items():
        shares = [sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in DEPTHS]
        print(f"| {name} | " + " | ".join(f"{s:.0%}" for s in shares) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
