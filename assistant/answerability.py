"""Is the question answered by the retrieved sentences? A classifier learned from SQuAD 2.0 answerable and
unanswerable questions (scripts/train/train_answerability.py) over signals of the question and its best candidate
sentences: dense cosine, BM25 rank, stemmed and embedding-matched word coverage, whether the sentence holds the
kind of answer asked for, names and numbers the question has and the sentence lacks, word order and negation.

Word-coverage rules refuse a question put in other words than the text's; SQuAD's unanswerable questions
reuse the paragraph's words and swap a name or a relation. A learned weighting of many weak signals separates
the two better than any one of them, and its probability is the decision's confidence."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from assistant.answers import Evidence
from assistant.grounding import covered, sentence_coverage
from assistant.question import Question, negated
from assistant.reader import best_span
from assistant.spans import KINDS, missing_kind
from kernel.text import WH_WORDS, content_terms, content_words, stem, words

MODEL_FILE = "answerability.joblib"
TRAINER = "scripts/train/train_answerability.py"


@dataclass
class Coverage:
    """One retrieved sentence and the question words it lacks. `vocabulary` holds the content words of the
    sentence, its section, the sentence before it and the previous question (for follow-ups); `missing` the
    question words found there neither by stem nor as a word the embedder judges close."""

    evidence: Evidence
    position: int  # in the retrieval (fused) ranking
    vocabulary: dict[str, str]
    missing: list[str]


def _order_agreement(question_terms: Sequence[str], sentence_terms: Sequence[str]) -> float:
    """Share of pairs of question words that the sentence has in the same order (1 with fewer than two)."""
    positions = []
    for term in question_terms:
        at = next((i for i, t in enumerate(sentence_terms) if covered(term, [t])), None)
        if at is not None:
            positions.append(at)
    pairs = [(a, b) for i, a in enumerate(positions) for b in positions[i + 1 :]]
    return sum(a < b for a, b in pairs) / len(pairs) if pairs else 1.0


def features(question: Question, ranked: Sequence[Coverage], evidence: Sequence[Evidence]) -> dict[str, float]:
    """The classifier's inputs for one question (a follow-up judged as the question it stands for); `ranked`
    is best coverage first, `evidence` the sentences an answer would quote."""
    asked = question.resolved_words
    n = max(1, len(asked))
    best = ranked[0]
    sentence = best.evidence.chunk.text
    dense = sorted((c.evidence.score for c in ranked), reverse=True)
    sentence_words = content_words(sentence)
    exact_missing = sentence_coverage(asked, sentence_words)
    union = sorted({t for c in ranked for t in c.vocabulary})
    evidence_vocabulary = sorted({t for c in ranked[: len(evidence)] for t in c.vocabulary})
    best_stems = list(best.vocabulary)
    names = question.names
    names_missing = [w for w in names if not covered(stem(w.lower()), best_stems)]
    numbers = question.numbers
    numbers_missing = [x for x in numbers if x not in sentence]
    new_words = [t for t in content_terms(sentence) if not covered(t, list(asked))]
    kind = question.answer_type
    span = best_span(question, evidence[0].chunk.text) if evidence else None
    out = {
        "question_words": float(len(asked)),
        "question_tokens": float(len(question.tokens)),
        "dense_max": dense[0],
        "dense_gap": dense[0] - (dense[1] if len(dense) > 1 else 0.0),
        "best_dense": best.evidence.score,
        "best_position": float(best.position),
        "best_lexical_inverse_rank": 1.0 / best.evidence.lexical_rank if best.evidence.lexical_rank else 0.0,
        "best_dense_inverse_rank": 1.0 / best.evidence.dense_rank if best.evidence.dense_rank else 0.0,
        "best_missing": float(len(best.missing)),
        "best_missing_share": len(best.missing) / n,
        "best_exact_missing_share": len(exact_missing) / n,
        "matched_by_meaning_share": (len(exact_missing) - len(best.missing)) / n,
        "fully_covered_candidates": float(sum(not c.missing for c in ranked)),
        "absent_everywhere_share": sum(not covered(t, union) for t in asked) / n,
        "evidence_missing_share": sum(not covered(t, evidence_vocabulary) for t in asked) / n,
        "names": float(len(names)),
        "names_missing": float(len(names_missing)),
        "numbers_missing": float(len(numbers_missing)),
        "answer_kind_fit": span.kind_fit if span else 0.0,
        "reader_confidence": span.probability if span else 0.0,
        "answer_kind_absent": float(missing_kind(kind, [e.chunk.text for e in evidence]) is not None),
        "sentence_new_words": math.log1p(len(new_words)),
        "sentence_tokens": math.log1p(len(words(sentence))),
        "order_agreement": _order_agreement(list(asked), content_terms(sentence)),
        "question_negated": float(question.negated),
        "negation_mismatch": float(question.negated != negated(sentence)),
        "follow_up": float(question.follow_up),
        "evidence_sentences": float(len(evidence)),
    }
    out |= {f"kind_{k}": float(kind == k) for k in KINDS}
    out |= {f"wh_{w}": float(question.wh == w) for w in WH_WORDS}
    return out


FEATURES = (
    "question_words",
    "question_tokens",
    "dense_max",
    "dense_gap",
    "best_dense",
    "best_position",
    "best_lexical_inverse_rank",
    "best_dense_inverse_rank",
    "best_missing",
    "best_missing_share",
    "best_exact_missing_share",
    "matched_by_meaning_share",
    "fully_covered_candidates",
    "absent_everywhere_share",
    "evidence_missing_share",
    "names",
    "names_missing",
    "numbers_missing",
    "answer_kind_fit",
    "reader_confidence",
    "answer_kind_absent",
    "sentence_new_words",
    "sentence_tokens",
    "order_agreement",
    "question_negated",
    "negation_mismatch",
    "follow_up",
    "evidence_sentences",
    *(f"kind_{k}" for k in KINDS),
    *(f"wh_{w}" for w in WH_WORDS),
)


class LearnedDecision:
    """A trained classifier over named inputs and its threshold (chosen when it was trained), from package
    data; refused when it was trained on other inputs than `features`."""

    def __init__(self, bundle: dict, features: tuple[str, ...] = FEATURES, trainer: str = TRAINER):
        if tuple(bundle["features"]) != tuple(features):
            raise ValueError(f"the model in the package was trained on other features; run {trainer}")
        self.model = bundle["model"]
        self.features = tuple(features)
        self.threshold = float(bundle["threshold"])
        self.provenance = bundle.get("provenance", {})

    def probability(self, values: dict[str, float]) -> float:
        """P(the positive class: here, the question is answered by the candidates)."""
        row = np.array([[values[name] for name in self.features]], dtype=float)
        return float(self.model.predict_proba(row)[0, 1])


def packaged(file: str):
    """A joblib bundle from assistant/data."""
    import joblib

    with resources.as_file(resources.files("assistant") / "data" / file) as path:
        return joblib.load(path)


@functools.cache
def load_model() -> LearnedDecision:
    return LearnedDecision(packaged(MODEL_FILE))
