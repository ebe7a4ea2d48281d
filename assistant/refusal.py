"""The refusal decision: does the retrieved evidence answer the question, and which sentences would the answer
rest on? A component of its own, so that the decision can be measured (`brief eval --tune`,
scripts/bench/squad_ceiling.py) and replaced without touching retrieval or generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.answerability import Coverage, features
from assistant.answers import Evidence, Turn
from assistant.conversation import is_follow_up, referent
from assistant.grounding import allowed_uncovered, best_extract, covered, sentence_coverage
from assistant.spans import missing_kind
from kernel.settings import GroundingSettings
from kernel.text import content_terms, content_words
from kernel.types import Chunk


@dataclass
class Decision:
    """What retrieval decided before any text is written: `reason` is None unless the question is refused."""

    ranked: list[Evidence]
    evidence: list[Evidence]
    reason: str | None
    confidence: float  # P(the candidates answer the question), from the answerability model
    features: dict[str, float]  # what the model saw

    @property
    def refused(self) -> bool:
        return self.reason is not None


class RefusalDecision:
    """Ranks the retrieved candidates by how much of the question each covers and decides whether to refuse:
    rules on relevance, coverage and the kind of answer asked for, then the learned veto."""

    def __init__(
        self,
        grounding: GroundingSettings,
        evidence_k: int,
        embeddings,
        previous: Callable[[Chunk], Chunk | None],
    ):
        self.grounding = grounding
        self.evidence_k = evidence_k
        self.embeddings = embeddings
        self.previous = previous  # the sentence before a chunk in its document, if any
        self._word_vectors: dict[str, np.ndarray] = {}

    def decide(self, question: str, turns: list[Turn], candidates: list[Evidence]) -> Decision:
        """Everything about a question that needs no model text: the candidates in coverage order, the
        sentences the answer rests on, the answerability model's confidence, and whether to refuse: when the
        evidence lacks the question's words or the kind of answer asked for, or the model's confidence is
        below its threshold (assistant/answerability.py). `brief eval --tune` and scripts/bench/squad_ceiling.py
        score refusals (and short answers) from it without generating."""
        if not candidates:
            return Decision([], [], ": nothing has been indexed that relates to it", 0.0, {})
        ranked, evidence, values = self.assess(question, turns, candidates)
        # A question for a date or a number is not answered by sentences that hold none, whatever else they share.
        kind = missing_kind(question, [e.chunk.text for e in evidence])
        confidence = 0.0 if kind else round(self.answerability.probability(values), 4)
        threshold = self.grounding.refusal_threshold
        asked = content_words(question, split_hyphens=False)
        reason = None
        if max(e.score for e in candidates) < self.grounding.min_relevance:
            reason = ""
        elif len(ranked[0].missing) > allowed_uncovered(len(asked), self.grounding.uncovered_share):
            reason = f" (nothing on: {', '.join(ranked[0].missing)})"
        elif kind:
            reason = f" (the closest passages hold no {kind})"
        elif not values["follow_up"] and confidence < (
            self.answerability.threshold if threshold is None else threshold
        ):  # the model learned from standalone questions: a follow-up is left to the rules above
            reason = " (the closest passages do not seem to answer it)"
        return Decision([c.evidence for c in ranked], evidence, reason, confidence, values)

    def assess(
        self, question: str, turns: list[Turn], candidates: list[Evidence]
    ) -> tuple[list[Coverage], list[Evidence], dict[str, float]]:
        """The candidates in coverage order, the evidence an answer would quote, and the answerability
        model's inputs (what scripts/train/train_answerability.py learns from). `candidates` must not be empty."""
        ranked = self.coverage(question, turns, candidates)
        # Only the sentences a quoted answer would need go into the prompt: reading it is most of the latency.
        top = [c.evidence.chunk.text for c in ranked[: self.evidence_k]]
        evidence = [ranked[i].evidence for i in best_extract(content_terms(question), top)]
        # A follow-up is judged as the question it stands for: what the conversation is about, then it.
        about = referent(turns) if is_follow_up(question) else ""
        resolved = f"{about} {question}" if about else question
        return ranked, evidence, features(resolved, ranked, evidence, bool(about))

    @property
    def answerability(self):
        """The learned veto (assistant/answerability.py), loaded once per process."""
        from assistant.answerability import load_model

        return load_model()

    def coverage(self, question: str, turns: list[Turn], candidates: list[Evidence]) -> list[Coverage]:
        """The candidates, those containing the most of the question's words first (ties keep the retrieval
        order), each with the question words it lacks. A sentence's words include its section, the sentence
        before it ("This move ...", "The country ..." continue it) and, for a follow-up, the previous
        question."""
        from index.pipeline import embedding_text

        asked = content_words(question, split_hyphens=False)
        context = content_words(referent(turns))
        similar = self.similarity(list(asked.values()), candidates)
        found = []
        for position, e in enumerate(candidates):
            previous = self.previous(e.chunk)
            vocabulary = content_words(embedding_text(e.chunk)) | context
            if previous is not None:
                vocabulary |= content_words(previous.text)
            found.append(Coverage(e, position, vocabulary, sentence_coverage(asked, vocabulary, similar)))
        # Among sentences that cover the question equally, those holding its words themselves (not in the
        # sentence before, not as words close in meaning) come first, then, for a follow-up, those naming more
        # of the earlier questions' words.
        return sorted(
            found,
            key=lambda c: (
                len(c.missing),
                len(sentence_coverage(asked, content_words(c.evidence.chunk.text))),
                -sum(covered(t, list(content_words(c.evidence.chunk.text))) for t in context),
                c.position,
            ),
        )

    def similarity(self, question_words: list[str], candidates: list[Evidence]):
        """A predicate: is this question word close in meaning to that evidence word (word-embedding cosine
        at least `term_match`)?"""
        from index.pipeline import embedding_text

        vocabulary = {w for e in candidates for w in content_words(embedding_text(e.chunk)).values()}
        new = [w for w in {*question_words, *vocabulary} if w not in self._word_vectors]
        if new:
            for w, v in zip(new, self.embeddings.embed_documents(new), strict=True):
                self._word_vectors[w] = np.asarray(v)
        threshold = self.grounding.term_match

        def similar(a: str, b: str) -> bool:
            va, vb = self._word_vectors.get(a), self._word_vectors.get(b)
            return va is not None and vb is not None and float(va @ vb) >= threshold

        return similar
