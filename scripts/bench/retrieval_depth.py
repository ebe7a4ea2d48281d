"""How deep the gold sentence of each answerable question lies in each ranking the retriever has: dense
(Chroma) alone, BM25 (FTS5) alone, the fused ranking, and `Assistant.rank` (the ranking an answer is built
from). A reranker can only promote what its candidates hold, so this says how many candidates it needs. The fused
ranking holds at most `dense_k` + `lexical_k` sentences (per query), whatever the depth asked.

    .venv/bin/python scripts/bench/retrieval_depth.py QUESTIONS.jsonl [--data-dir D] [--profile quality] [--depth 100] [--out depth.json]

Prints, per ranking, the share of answerable questions whose gold sentence is within the top 1, 5, 10, 20, 50
and 100, and writes each question's ranks as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DEPTHS = (1, 5, 10, 20, 50, 100)
RANKINGS = ("dense", "lexical", "fused", "answer")


def depth_shares(rows: list[dict], ranking: str, depth: int) -> dict[int, float]:
    """Share of rows whose gold rank in `ranking` is within each of DEPTHS (up to `depth`)."""
    return {
        k: sum(1 for r in rows if r[ranking] is not None and r[ranking] <= k) / max(1, len(rows))
        for k in DEPTHS
        if k <= depth
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--data-dir", help="the index to search (default: the configured data dir)")
    parser.add_argument(
        "--profile",
        help="the settings' profile (quality: the answer's ranking is cut as the quality profile cuts it, 15 deep)",
    )
    parser.add_argument("--depth", type=int, default=100, help="how deep each ranking is read")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from assistant import Assistant, load_settings
    from workbench.evaluation import SourceReader, gold_rank, load_questions

    chosen = {"data_dir": args.data_dir, "profile": args.profile}
    settings = load_settings(**{name: value for name, value in chosen.items() if value})
    assistant = Assistant(settings)
    read_source = SourceReader(assistant.documents.texts())
    items = [item for item in load_questions(args.questions) if item.answerable and item.gold_quotes]

    def rank_of(chunks, item) -> int | None:
        return gold_rank([{"source": c.source, "start": c.start, "end": c.end} for c in chunks], item, read_source)

    rows = []
    for item in items:
        history = [{"role": "user", "content": h} for h in item.history]
        vector = assistant.embeddings.embed_query(item.question)
        manifest = assistant.retriever.manifest()
        rows.append(
            {
                "id": item.id,
                "dense": rank_of([c for c, _ in assistant.store.query(vector, args.depth, manifest)], item),
                "lexical": rank_of([c for c, _ in assistant.retriever.lexical.search(item.question, args.depth)], item),
                "fused": rank_of([e.chunk for e in assistant.retriever.retrieve(item.question, k=args.depth)], item),
                "answer": rank_of([e.chunk for e in assistant.rank(item.question, history, k=args.depth)], item),
            }
        )
    print(f"{len(rows)} answerable questions of {args.questions}; share with the gold sentence within the top k")
    print("| ranking | " + " | ".join(f"@{k}" for k in DEPTHS if k <= args.depth) + " |")
    print("| --- |" + " --- |" * len([k for k in DEPTHS if k <= args.depth]))
    for ranking in RANKINGS:
        shares = depth_shares(rows, ranking, args.depth)
        print(f"| {ranking} | " + " | ".join(f"{v:.0%}" for v in shares.values()) + " |")
    if args.out:
        args.out.write_text(json.dumps({"questions": str(args.questions), "items": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
