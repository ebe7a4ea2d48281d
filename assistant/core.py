"""The assistant: question → retrieve → check the evidence covers it → prompt → generate → verify citations →
Answer. The CLI, the web chat and the HTTP API are thin shells over `Assistant`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.config import Settings, load_settings
from assistant.grounding import (
    adds_information,
    allowed_uncovered,
    best_extract,
    completeness,
    is_non_answer,
    sentence_coverage,
    verify_answer,
)
from assistant.models import Answer, Citation, Evidence, Timings, Turn
from assistant.prompts import render, template
from assistant.spans import missing_kind, short_answer
from assistant.text import content_terms, content_words, words

FOLLOW_UP_WORDS = frozenset(
    [
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "this",
        "that",
        "these",
        "those",
        "he",
        "him",
        "his",
        "she",
        "her",
        "there",
        "such",
        "former",
        "latter",
    ]
)


@dataclass
class Decision:
    """What retrieval decided before any text is written: `reason` is None unless the question is refused."""

    ranked: list[Evidence]
    evidence: list[Evidence]
    reason: str | None

    @property
    def refused(self) -> bool:
        return self.reason is not None


# A conservative characters-per-token figure for fitting a prompt to the model's context (English prose runs
# at ~4 for the bundled model's tokenizer; digits and other scripts at fewer).
CHARS_PER_TOKEN = 2.5


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); the message is for the user."""


def validate_question(question: str, settings: Settings) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty")
    question = " ".join(question.split())
    if len(question) > settings.max_question_chars:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {settings.max_question_chars}"
        )
    return question


def normalise_history(history: Sequence[Turn | dict] | None) -> list[Turn]:
    turns = []
    for item in history or []:
        turns.append(item if isinstance(item, Turn) else Turn(**item))
    return turns


def validate_history(history: Sequence[Turn | dict] | None, settings: Settings) -> list[Turn]:
    """Earlier turns within the limits every door applies (CLI, web chat, /api, /v1): at most
    `max_history_turns`, a user turn no longer than a question, an assistant turn `max_turn_chars`."""
    turns = normalise_history(history)
    if len(turns) > settings.max_history_turns:
        raise QuestionError(f"the history has {len(turns)} turns; the limit is {settings.max_history_turns}")
    for n, turn in enumerate(turns):
        limit = settings.max_question_chars if turn.role == "user" else settings.max_turn_chars
        if len(turn.content) > limit:
            raise QuestionError(
                f"history turn {n} ({turn.role}) is {len(turn.content)} characters long; the limit is {limit}"
            )
    return turns


def retrieval_queries(question: str, history: list[Turn]) -> list[str]:
    """A follow-up ('why does the U.S. care about them?') is searched both alone and together with the
    previous question, so that what 'them' refers to can be found."""
    earlier = [t.content for t in history if t.role == "user"]
    if not earlier:
        return [question]
    tokens = set(words(question))
    if tokens & FOLLOW_UP_WORDS or len(content_terms(question)) <= 2:
        return [question, f"{earlier[-1]} {question}"]
    return [question]


class Assistant:
    """Answers questions over the indexed documents with verified sentence citations."""

    def __init__(self, settings: Settings | None = None, *, store=None, chat_model=None):
        self.settings = settings or load_settings()
        self._store = store
        self._chat_model = chat_model
        self._embeddings = None
        self._retriever = None
        self._word_vectors: dict[str, np.ndarray] = {}
        self._init_lock = threading.Lock()

    # Components, loaded on first use -----------------------------------------------------------------
    @property
    def embeddings(self):
        if self._embeddings is None:
            from index.embedder import load_embeddings

            self._embeddings = load_embeddings(self.settings.embedding_model)
        return self._embeddings

    @property
    def store(self):
        if self._store is None:
            from index.pipeline import open_store

            self._store = open_store(self.settings)
        return self._store

    @property
    def chat_model(self):
        if self._chat_model is None:
            from assistant.llm import make_chat_model

            self._chat_model = make_chat_model(self.settings)
        return self._chat_model

    @property
    def retriever(self):
        with self._init_lock:
            if self._retriever is None:
                from assistant.retrieval import HybridRetriever

                self._retriever = HybridRetriever(self.settings, self.store, self.embeddings)
        return self._retriever

    def warm_up(self) -> None:
        """Load every model now rather than on the first question: a first search warms the embedder (its
        first calls are several times slower), and the model reads the system prompt, which it keeps cached
        as the prefix of every prompt."""
        from langchain_core.messages import HumanMessage, SystemMessage

        self.retriever.retrieve(["warm up", "warm up the search"])
        self.chat_model.invoke([SystemMessage(template("system")), HumanMessage("Hi")], max_tokens=1)

    def prefill_prompt_cache(self, limit: int | None = None, progress=None) -> int:
        """Have the local model read each indexed sentence (up to `limit`, default `prefill_sentences`) as the
        first source of a prompt, so that a later question citing it costs the model only the question's own
        words: the prompt cache keeps what was read. Returns how many sentences were read; 0 for a remote
        model."""
        if not getattr(self.chat_model, "keeps_prompt_cache", False):
            return 0
        limit = self.settings.prefill_sentences if limit is None else limit
        # In sorted order: a prompt that shares its start with a cached one makes llama.cpp move that entry
        # out of the cache into the slot, and so lose it, only when it shares more with it than with the
        # prompt the slot holds; in sorted order the slot always holds the closest one read so far.
        chunks = sorted(self.store.all_chunks()[:limit], key=lambda c: c.text) if limit > 0 else []
        for done, chunk in enumerate(chunks, start=1):
            self.chat_model.invoke(self._messages("", [], [chunk.text]), max_tokens=1)
            if progress:
                progress(done, len(chunks))
        return len(chunks)

    # Answering -----------------------------------------------------------------------------------------
    def rank(self, question: str, history: Sequence[Turn | dict] | None = None, k: int = 10) -> list[Evidence]:
        """The retrieval ranking the answer is built from (for retrieval metrics), `k` deep."""
        turns = normalise_history(history)
        candidates = self.retriever.retrieve(retrieval_queries(question, turns), k=max(k, self.settings.coverage_k))
        head, _ = self._rank_by_coverage(question, turns, candidates[: self.settings.coverage_k])
        return (head + candidates[self.settings.coverage_k :])[:k]

    def ask(self, question: str, history: Sequence[Turn | dict] | None = None) -> Answer:
        answer = None
        for event, value in self.ask_stream(question, history):
            if event == "answer":
                answer = value
        return answer

    def ask_stream(self, question: str, history: Sequence[Turn | dict] | None = None) -> Iterator[tuple[str, object]]:
        """Yield ("token", str) while the model writes, then ("answer", Answer), which is authoritative: if
        the streamed text fails the support check, the answer quotes the evidence instead. Evidence of more
        than `max_generated_sources` sentences is quoted without asking the model (no tokens)."""
        started = time.perf_counter()
        question = validate_question(question, self.settings)
        turns = validate_history(history, self.settings)
        candidates = self.retriever.retrieve(retrieval_queries(question, turns), k=self.settings.coverage_k)
        decision = self.decide(question, turns, candidates)
        ranked, evidence = decision.ranked, decision.evidence
        retrieved_at = time.perf_counter()
        timings = Timings(retrieve_s=round(retrieved_at - started, 4))
        if decision.refused:
            timings.total_s = round(time.perf_counter() - started, 4)
            yield "answer", self._refusal(decision.reason, candidates, timings)
            return

        pieces: list[str] = []
        if len(evidence) <= self.settings.max_generated_sources:
            messages = self._messages(question, turns, [e.chunk.text for e in evidence])
            for chunk in self.chat_model.stream(messages):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    pieces.append(text)
                    yield "token", text
        generated = "".join(pieces).strip()  # nothing written: the answer quotes the evidence
        timings.generate_s = round(time.perf_counter() - retrieved_at, 4)
        answer = self._compose(question, turns, generated, evidence)
        answer.retrieved = ranked
        answer.tokens_generated = len(pieces)
        timings.total_s = round(time.perf_counter() - started, 4)
        answer.timings = timings
        yield "answer", answer

    def decide(self, question: str, turns: list[Turn], candidates: list[Evidence]) -> Decision:
        """Everything about a question that needs no model text: the candidates in coverage order, the
        sentences the answer rests on, and whether to refuse. `brief eval --tune` and
        scripts/squad_ceiling.py score refusals (and short answers) from it without generating."""
        ranked, reason = self._rank_by_coverage(question, turns, candidates)
        # Only the sentences a quoted answer would need go into the prompt: reading it is most of the latency.
        top = ranked[: self.settings.evidence_k]
        evidence = [top[i] for i in best_extract(content_terms(question), [e.chunk.text for e in top])]
        if reason is None and (kind := missing_kind(question, [e.chunk.text for e in evidence])):
            reason = f" (the closest passages hold no {kind})"
        return Decision(ranked=ranked, evidence=evidence, reason=reason)

    def _rank_by_coverage(
        self, question: str, turns: list[Turn], candidates: list[Evidence]
    ) -> tuple[list[Evidence], str | None]:
        """Order the candidates so that sentences containing all of the question's words come first, and
        decide whether to refuse: when no sentence is relevant enough, or none contains the question's
        words (a question about a population the brief never mentions shares 'Mali' with every sentence, but
        no sentence has 'population')."""
        from index.pipeline import embedding_text

        if not candidates:
            return [], ": nothing has been indexed that relates to it"
        if max(e.score for e in candidates) < self.settings.min_relevance:
            return candidates, ""
        asked = content_words(question, split_hyphens=False)
        earlier = [t.content for t in turns if t.role == "user"]
        context = content_words(earlier[-1]) if earlier else {}
        similar = self._similarity(list(asked.values()), candidates)
        missing_by_rank = []
        for e in candidates:
            previous = self.retriever.previous(e.chunk)
            vocabulary = content_words(embedding_text(e.chunk)) | context
            if previous is not None:  # "This move ...", "The country ..." continue the sentence before
                vocabulary |= content_words(previous.text)
            missing_by_rank.append(sentence_coverage(asked, vocabulary, similar))
        order = sorted(range(len(candidates)), key=lambda i: (len(missing_by_rank[i]), i))
        best = missing_by_rank[order[0]]
        if len(best) > allowed_uncovered(len(asked), self.settings.uncovered_share):
            return [candidates[i] for i in order], f" (nothing on: {', '.join(best)})"
        return [candidates[i] for i in order], None

    def _similarity(self, question_words: list[str], candidates: list[Evidence]):
        """A predicate: is this question word close in meaning to that evidence word (word-embedding cosine)?"""
        from index.pipeline import embedding_text

        vocabulary = {w for e in candidates for w in content_words(embedding_text(e.chunk)).values()}
        new = [w for w in {*question_words, *vocabulary} if w not in self._word_vectors]
        if new:
            for w, v in zip(new, self.embeddings.embed_documents(new), strict=True):
                self._word_vectors[w] = np.asarray(v)
        threshold = self.settings.term_match

        def similar(a: str, b: str) -> bool:
            va, vb = self._word_vectors.get(a), self._word_vectors.get(b)
            return va is not None and vb is not None and float(va @ vb) >= threshold

        return similar

    def _messages(self, question: str, turns: list[Turn], sources: list[str]):
        """The prompt: system text, then the sources, then the question, in that order so that the part
        shared with earlier prompts (system text and first source) comes first and is read from the cache.
        The earlier question is kept only when the prompt still fits the model's context with room for
        the answer (estimated at `CHARS_PER_TOKEN`): the latest turn that fits, else none."""
        from langchain_core.messages import HumanMessage, SystemMessage

        numbered = "\n".join(f"[{i}] {text}" for i, text in enumerate(sources, start=1))
        system = template("system")
        room = (self.settings.llm_context - self.settings.max_answer_tokens) * CHARS_PER_TOKEN
        user = render("answer", sources=numbered, history="", question=question)
        earlier = [t.content for t in turns if t.role == "user"]
        if earlier:
            with_history = render(
                "answer", sources=numbered, history=f"Earlier question: {earlier[-1]}\n", question=question
            )
            if len(system) + len(with_history) <= room:
                user = with_history
        return [SystemMessage(system), HumanMessage(user)]

    def _compose(self, question: str, turns: list[Turn], generated: str, evidence: list[Evidence]) -> Answer:
        texts = [e.chunk.text for e in evidence]
        verdicts, supported = verify_answer(generated, texts, self.settings.support_threshold)
        earlier = [t.content for t in turns if t.role == "user"]
        needed = best_extract(content_terms(question), texts)  # what a quoted answer would need
        cited_anywhere = {n for _, cited, _ in verdicts for n in cited}
        usable = (
            supported
            and not is_non_answer(generated)
            and adds_information(generated, question, earlier)
            and all(i + 1 in cited_anywhere for i in needed)
            and completeness(generated, texts[0], question) >= self.settings.completeness
        )
        if usable:
            parts = [(sentence, cited) for sentence, cited, _ in verdicts]
            mode = "generated"
        else:
            parts = [(texts[i], [i + 1]) for i in needed]
            mode = "extractive"
        numbering: dict[int, int] = {}
        rendered = []
        for sentence, cited in parts:
            marks = "".join(f"[{numbering.setdefault(n, len(numbering) + 1)}]" for n in cited)
            rendered.append(f"{sentence.rstrip()} {marks}".strip())
        body = " ".join(rendered)
        if mode == "extractive":
            body = render("extractive", quotes=body)
        citations = [self._citation(marker, evidence[n - 1]) for n, marker in numbering.items()]
        first_cited = evidence[next(iter(numbering)) - 1].chunk.text if numbering else ""
        return Answer(
            answer=body,
            refused=False,
            short_answer=short_answer(question, first_cited) if first_cited else "",
            citations=citations,
            mode=mode,
            retrieved=evidence,
        )

    @staticmethod
    def _citation(marker: int, ev: Evidence) -> Citation:
        c = ev.chunk
        return Citation(
            marker=marker,
            source=c.source,
            section=c.section,
            quote=ev.quote,
            start=c.start,
            end=c.end,
            score=ev.score,
        )

    @staticmethod
    def _refusal(reason: str, evidence: list[Evidence], timings: Timings) -> Answer:
        return Answer(
            answer=render("refusal", reason=reason),
            refused=True,
            citations=[],
            timings=timings,
            mode="refused",
            retrieved=evidence,
        )
