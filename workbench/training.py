"""The training data of the models the package ships (`scripts/train/`): 25 SQuAD 2.0 dev articles, never the
Normans/Rhine test file (benchmarks/squad2-dev-train-articles.json), their questions reworded the way users ask
(benchmarks/squad2-train-paraphrases.jsonl), the split of the articles into a training part and a held-out
part, and the reader's examples. The files are in the source tree's benchmarks/, not in the wheel."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
DATA = CHECKOUT / "benchmarks" / "squad2-dev-train-articles.json"
PARAPHRASES = CHECKOUT / "benchmarks" / "squad2-train-paraphrases.jsonl"
SEED = 0
HELD_OUT_SHARE = 0.2


def held_out(article: str) -> bool:
    """About a fifth of the articles, fixed by a hash of the title."""
    return int(hashlib.sha256(article.encode()).hexdigest(), 16) % 100 < 100 * HELD_OUT_SHARE


def rewordings(path: Path = PARAPHRASES) -> dict[str, str]:
    """SQuAD question id -> its reworded question, from `path` (none when the file is absent)."""
    if not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return {row["id"]: row["question"] for row in rows}


def reader_examples() -> list[dict]:
    """(article, group, question, sentence, answers) for every answerable question whose first gold answer lies
    inside one sentence of its paragraph."""
    from index.chunking import split_sentences

    reworded = rewordings()
    out = []
    for article in json.loads(DATA.read_text(encoding="utf-8"))["data"]:
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = split_sentences(context)
            for qa in paragraph["qas"]:
                if qa["is_impossible"]:
                    continue
                first = qa["answers"][0]["text"]
                start = context.find(first)
                sentence = next((context[s:e] for s, e in spans if s <= start < e), None)
                if sentence is None or first not in sentence:
                    continue
                answers = [a["text"] for a in qa["answers"]]
                out.append(
                    {
                        "article": title,
                        "group": "as written",
                        "question": qa["question"],
                        "sentence": sentence,
                        "answers": answers,
                    }
                )
                if qa["id"] in reworded:
                    out.append(
                        {
                            "article": title,
                            "group": "reworded",
                            "question": reworded[qa["id"]],
                            "sentence": sentence,
                            "answers": answers,
                        }
                    )
    return out
