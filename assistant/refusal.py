"""The refusal decision: does the retrieved evidence answer the question, and which sentences would the answer
rest on? A component of its own, so that the decision can be measured (`brief eval --tune`,
scripts/bench/squad_ceiling.py) and replaced without touching retrieval or generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.answerability import Coverage, features
from assistant.answers import Evidence
from assistant.grounding import best_extract, covered, sentence_coverage
from assistant.question import Question
from kernel.settings import GroundingSettings
from kernel.text import content_words
from kernel.types import Chunk

OUTCOMES = ("answer", "closest", "nothing")


@dataclass
class Decision:
    """What retrieval decided before any text is written. `outcome` is one of OUTCOMES: 'answer' (the model
    is confident the evidence answers it), 'closest' (unsure, but related passages exist: they are shown, and
    the brief is said not to state it directly) or 'nothing' (nothing relevant is indexed)."""

    ranked: list[Evidence]
    evidence: list[Evidence]
    outcome: str
    confidence: float  # P(the candidates answer the question), from the answerability model
    features: dict[str, float]  # what the model saw

    @property
    def refused(self) -> bool:
        return self.outcome != "answer"


class RefusalDecision:
    """Ranks the retrieved candidates by how much of the question each covers, and decides from one learned,
    calibrated model whether they answer it: no rule on words stands in front of it (its signals are the
    model's inputs). Relevance only tells an unsure 'closest passages' from a plain 'nothing relevant'."""

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

    @property
    def threshold(self) -> float:
        """Answer at or above this confidence: the setting, else the operating point chosen with the model."""
        configured = self.grounding.refusal_threshold
        return self.answerability.threshold if configured is None else configured

    def decide(self, question: Question, candidates: list[Evidence]) -> Decision:
        """Everything about a question that needs no model text: the candidates in coverage order, the
        sentences the answer rests on, the answerability model's confidence, and the outcome.
        `brief eval --tune` scores outcomes (and short answers) from it without generating."""
        if not candidates:
            return Decision([], [], "nothing", 0.0, {})
        ranked, evidence, values = self.assess(question, candidates)
        confidence = round(self.answerability.probability(values), 4)
        if confidence >= self.threshold:
            outcome = "answer"
        elif max(e.score for e in candidates) >= self.grounding.min_relevance:
            outcome = "closest"
        else:
            outcome = "nothing"
        return Decision([c.evidence for c in ranked], evidence, outcome, confidence, values)

    def assess(
        self, question: Question, candidates: list[Evidence]
    ) -> tuple[list[Coverage], list[Evidence], dict[str, float]]:
        """The candidates in coverage order, the evidence an answer would quote, and the answerability
        model's inputs (what scripts/train/train_answerability.py learns from). `candidates` must not be empty."""
        ranked = self.coverage(question, candidates)
        # Only the sentences a quoted answer would need go into the prompt: reading it is most of the latency.
        top = [c.evidence.chunk.text for c in ranked[: self.evidence_k]]
        # The decision is learned on the sentences a quote must have; a sentence that ties with the first is
        # quoted beside it.
        values = features(question, ranked, [ranked[i].evidence for i in best_extract(question.terms, top)])
        evidence = [ranked[i].evidence for i in best_extract(question.terms, top, ties=True)]
        return ranked, evidence, values

    @property
    def answerability(self):
        """The learned veto (assistant/answerability.py), loaded once per process."""
        from assistant.answerability import load_model

        return load_model()

    def coverage(self, question: Question, candidates: list[Evidence]) -> list[Coverage]:
        """The candidates, those containing the most of the question's words first (ties keep the retrieval
        order), each with the question words it lacks. A sentence's words include its section, the sentence
        before it ("This move ...", "The country ..." continue it) and, for a follow-up, the previous
        question."""
        from index.pipeline import embedding_text

        asked = question.words
        context = question.context_words
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
