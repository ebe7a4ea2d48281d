"""The assistant: question → retrieve → decide (does the evidence answer it?) → short answer, or prompt →
generate → verify citations → Answer. The CLI, the web chat and the HTTP API are thin shells over `Assistant`."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from assistant.answers import Answer, Citation, Evidence, Timings, Turn
from assistant.grounding import (
    adds_information,
    best_extract,
    completeness,
    echoed_terms,
    is_non_answer,
    support_score,
    verify_answer,
)
from assistant.model_reader import cited_by_support, in_reading_order, read
from assistant.pipeline import Final, StreamEvent, Token
from assistant.prompts import render, template
from assistant.question import Question
from assistant.reader import confident_short_answer, short_answer
from assistant.reading_check import PASSAGES_ASKED, answer_inputs, best_confirmed, load_check
from assistant.refusal import Decision, RefusalDecision
from kernel.settings import Settings, load_settings

# A conservative characters-per-token figure for fitting a prompt to the model's context (English prose runs
# at ~4 for the bundled model's tokenizer; digits and other scripts at fewer).
CHARS_PER_TOKEN = 2.5
READER_PROMPT_TOKENS = 512  # the reader's instructions, passage numbers and question, at most


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long); the message is for the user."""


_SURROGATE = re.compile("[\ud800-\udfff]")


def not_text(text: str) -> str | None:
    """Why `text` is not valid Unicode text, or None: a lone surrogate, which is what a JSON escape such as
    "\\ud800" without its pair, or a byte that is not UTF-8 in a command line (Python's surrogateescape), becomes.
    Nothing downstream can encode it (the tokenizer, SQLite, the JSON of the answer)."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (
        f"character {found.start()} is U+{ord(found.group()):04X}, a lone surrogate "
        "(an escape without its pair, or a byte that is not UTF-8)"
    )


def validate_question(question: str, settings: Settings) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty")
    if (reason := not_text(question)) is not None:
        raise QuestionError(f"the question is not valid text: {reason}")
    question = " ".join(question.split())
    if len(question) > settings.limits.max_question_chars:
        raise QuestionError(
            f"the question is {len(question)} characters long; the limit is {settings.limits.max_question_chars}"
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
    if len(turns) > settings.limits.max_history_turns:
        raise QuestionError(f"the history has {len(turns)} turns; the limit is {settings.limits.max_history_turns}")
    for n, turn in enumerate(turns):
        limit = settings.limits.max_question_chars if turn.role == "user" else settings.limits.max_turn_chars
        if len(turn.content) > limit:
            raise QuestionError(
                f"history turn {n} ({turn.role}) is {len(turn.content)} characters long; the limit is {limit}"
            )
        if (reason := not_text(turn.content)) is not None:
            raise QuestionError(f"history turn {n} ({turn.role}) is not valid text: {reason}")
    return turns


def document_name(source: str) -> str:
    """How an answer names the document it quotes: the file name ('us-mali-reengagement-brief.txt'), or the
    whole source when it has no file extension (a SQuAD paragraph, 'squad/Normans/3')."""
    name = PurePosixPath(source).name
    return name if "." in name else source


class Assistant:
    """Answers questions over the indexed documents with verified sentence citations."""

    def __init__(self, settings: Settings | None = None, *, store=None, chat_model=None):
        self.settings = settings or load_settings()
        self._store = store
        self._chat_model = chat_model
        self._embeddings = None
        self._retriever = None
        self._documents = None
        self._refusal_decision = None
        self._init_lock = threading.Lock()

    # Components, loaded on first use -----------------------------------------------------------------
    @property
    def embeddings(self):
        if self._embeddings is None:
            from kernel.embedder import load_embeddings

            self._embeddings = load_embeddings(self.settings.model.embedding_model)
        return self._embeddings

    @property
    def store(self):
        if self._store is None:
            from index.pipeline import open_store

            self._store = open_store(self.settings)
        return self._store

    @property
    def documents(self):
        """The indexed documents (list, add, remove, a source's text), for the shells."""
        if self._documents is None:
            from index.documents import DocumentService

            self._documents = DocumentService(self.store, self.settings)
        return self._documents

    @property
    def chat_model(self):
        if self._chat_model is None:
            from assistant.llm import make_chat_model

            self._chat_model = make_chat_model(self.settings.model)
        return self._chat_model

    @property
    def refusal(self) -> RefusalDecision:
        """The refusal decision, which also orders the candidates an answer is built from."""
        if self._refusal_decision is None:
            self._refusal_decision = RefusalDecision(
                self.settings.grounding, self.settings.retrieval.evidence_k, self.embeddings, self.retriever.previous
            )
        return self._refusal_decision

    @property
    def retriever(self):
        with self._init_lock:
            if self._retriever is None:
                from assistant.retrieval import make_retriever

                self._retriever = make_retriever(self.settings, self.store, self.embeddings)
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
        limit = self.settings.server.prefill_sentences if limit is None else limit
        # In sorted order: a prompt that shares its start with a cached one makes llama.cpp move that entry
        # out of the cache into the slot, and so lose it, only when it shares more with it than with the
        # prompt the slot holds; in sorted order the slot always holds the closest one read so far.
        chunks = sorted(self.store.all_chunks()[:limit], key=lambda c: c.text) if limit > 0 else []
        for done, chunk in enumerate(chunks, start=1):
            self.chat_model.invoke(self.prompt(Question(""), [chunk.text]), max_tokens=1)
            if progress:
                progress(done, len(chunks))
        return len(chunks)

    # Answering -----------------------------------------------------------------------------------------
    def analyse(self, question: str, history: Sequence[Turn | dict] | None = None) -> Question:
        """The question, checked against the limits every door applies, and analysed once for every stage."""
        return Question.analyse(validate_question(question, self.settings), validate_history(history, self.settings))

    def rank(self, question: str, history: Sequence[Turn | dict] | None = None, k: int = 10) -> list[Evidence]:
        """The retrieval ranking the answer is built from (for retrieval metrics), `k` deep."""
        asked = Question.analyse(question, normalise_history(history))
        coverage_k = self.settings.retrieval.coverage_k
        candidates = self.retriever.retrieve(asked.queries, k=max(k, coverage_k))
        head = [c.evidence for c in self.refusal.coverage(asked, candidates[:coverage_k])]
        return (head + candidates[coverage_k:])[:k]

    def decide(self, question: Question) -> Decision:
        """Retrieve, then decide: the outcome and the evidence, before any text is written."""
        candidates = self.retriever.retrieve(question.queries, k=self.settings.retrieval.coverage_k)
        return self._overview(question, candidates) or self.refusal.decide(question, candidates)

    def _overview(self, question: Question, candidates: list[Evidence]) -> Decision | None:
        """A request for the gist of a document ("summarize it", "what is this about") is answered by the
        opening sentence of the document the best candidate is from: no sentence matches such a question, and
        the answerability model is not asked (confidence 1)."""
        if not question.asks_overview or not candidates:
            return None
        opening = self.retriever.opening(candidates[0].chunk, question.text)
        if opening is None:
            return None
        ranked = [opening, *(c for c in candidates if c.chunk.id != opening.chunk.id)]
        return Decision(ranked, [opening], "answer", 1.0, {})

    def ask(self, question: str, history: Sequence[Turn | dict] | None = None) -> Answer:
        answer = None
        for event in self.ask_stream(question, history):
            if isinstance(event, Final):
                answer = event.answer
        return answer

    def ask_stream(self, question: str, history: Sequence[Turn | dict] | None = None) -> Iterator[StreamEvent]:
        """Yield `Token`s while the model writes, then one `Final` answer, which is authoritative: if
        the streamed text fails the support check, the answer quotes the evidence instead. Evidence of more
        than `max_generated_sources` sentences is quoted without asking the model (no tokens)."""
        started = time.perf_counter()
        asked = self.analyse(question, history)
        if self.settings.grounding.model_reads:
            yield Final(self._read_by_model(asked, started))
            return
        decision = self.decide(asked)
        evidence = decision.evidence
        retrieved_at = time.perf_counter()
        timings = Timings(retrieve_s=round(retrieved_at - started, 4))
        if decision.refused:
            refusal = self._refusal(decision)
            timings.total_s = round(time.perf_counter() - started, 4)
            refusal.timings = timings
            yield Final(refusal)
            return

        pieces: list[str] = []
        short = self._short_answer(asked, evidence)
        if short is None and len(evidence) <= self.settings.grounding.max_generated_sources:
            messages = self.prompt(asked, [e.chunk.text for e in evidence])
            for chunk in self.chat_model.stream(messages):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    pieces.append(text)
                    yield Token(text)
        generated = "".join(pieces).strip()  # nothing written: the answer quotes the evidence
        timings.generate_s = round(time.perf_counter() - retrieved_at, 4)
        answer = self.compose(asked, generated, evidence, short)
        answer.confidence = decision.confidence
        answer.retrieved = decision.ranked
        answer.tokens_generated = len(pieces)
        timings.total_s = round(time.perf_counter() - started, 4)
        answer.timings = timings
        yield Final(answer)

    def _read_by_model(self, asked: Question, started: float) -> Answer:
        """The quality profile: the model reads the whole collection when it is small (`_whole_limit`), else
        the retrieved passages, in document order either way (so that questions share the prompt's start and
        the prompt cache reads it once), and either cites those that answer, with a short answer, or says they
        do not. What it cites is quoted from the documents; its short answer is kept (with `short_answers`)
        only when the passage it cites first supports it, else the cited passages are quoted whole. The reading
        check keeps that answer or the passage of retrieval's first few the model most confirms, whichever it
        judges likelier right; when neither is likely enough, the answer is withheld and the closest passages
        are shown. The model's answer carries its short answer (`Answer.short_answer`, what the check weighs)
        when the passage it cites first supports it."""
        candidates = self.retriever.retrieve(asked.queries, k=self.settings.retrieval.coverage_k)
        if overview := self._overview(asked, candidates):
            answer = self.compose(asked, "", overview.evidence)
            answer.confidence, answer.retrieved = overview.confidence, overview.ranked
            answer.timings = Timings(total_s=round(time.perf_counter() - started, 4))
            return answer
        decision = self.refusal.decide(asked, candidates) if candidates else Decision([], [], "nothing", 0.0, {})
        retrieved_at = time.perf_counter()
        passages = self.retriever.whole(self._whole_limit(), candidates) or in_reading_order(candidates)
        reading = read(self.chat_model, asked, passages)
        timings = Timings(retrieve_s=round(retrieved_at - started, 4))
        answer = None
        if reading.stated:
            cited = [passages[i] for i in cited_by_support(reading, [p.chunk.text for p in passages])]
            cited.sort(key=lambda e: -support_score(reading.answer, [e.chunk.text]))
            short = reading.answer if self.settings.grounding.short_answers else None
            answer = self.compose(asked, "", cited, short)
            if self._short_stands(asked, reading.answer, answer.citations[0].quote):
                answer.short_answer = reading.answer  # what the check weighs, and reported beside the quote
        checked = self._checked(asked, answer, decision)
        if checked is not None:
            answer = checked
            answer.confidence = decision.confidence
            answer.retrieved = decision.ranked
        else:
            related = bool(candidates) and max(e.score for e in candidates) >= self.settings.grounding.min_relevance
            unsure = answer is not None or related
            answer = self._refusal(replace(decision, outcome="closest" if unsure else "nothing"))
        timings.generate_s = round(time.perf_counter() - retrieved_at, 4)
        timings.total_s = round(time.perf_counter() - started, 4)
        answer.timings = timings
        return answer

    def confirmed_passage_answer(
        self, asked: Question, decision: Decision, cited: set[tuple[str, int]]
    ) -> tuple[Answer, float] | None:
        """Of retrieval's first `PASSAGES_ASKED` passages that the model's answer does not cite (`cited`: source
        and start of what it cites), the one the model most says answers the question, quoted whole, as the
        other answer the reading check weighs, with that chance; None when there is none."""
        options = [
            self.compose(asked, "", [e])
            for e in decision.ranked[:PASSAGES_ASKED]
            if (e.chunk.source, e.chunk.start) not in cited
        ]
        if not options:
            return None
        best, chance = best_confirmed(self.chat_model, asked, [[c.quote for c in a.citations] for a in options])
        return options[best], chance

    def _checked(self, asked: Question, answer: Answer | None, decision: Decision) -> Answer | None:
        """The answer the reading check (assistant/reading_check.py) keeps: of the model's answer and the
        passage the model most confirms of retrieval's first few (`confirmed_passage_answer`), the one it judges
        likelier right, unless that chance is below its threshold (None: withheld). Without the decision's
        inputs, or at threshold 0, the model's answer stands unchecked and the model is not asked to confirm."""
        configured = self.settings.grounding.reading_check_threshold
        if not decision.features or configured == 0:
            return answer
        check = load_check()
        threshold = check.threshold if configured is None else configured
        cited = {(c.source, c.start) for c in answer.citations} if answer is not None else set()
        chances = []
        if answer is not None:
            chances.append((check.probability(self.check_inputs(asked, answer, decision)), answer))
        if confirmed_passage := self.confirmed_passage_answer(asked, decision, cited):
            passage, confirmation = confirmed_passage
            chances.append((check.probability(self.check_inputs(asked, passage, decision, confirmation)), passage))
        chance, best = max(chances, key=lambda c: c[0], default=(0.0, None))
        return best if best is not None and chance >= threshold else None

    def check_inputs(
        self, asked: Question, answer: Answer, decision: Decision, passage_confirmation: float | None = None
    ) -> dict:
        """The reading check's inputs for `answer` (the model asked to confirm it), when answering and when
        training the check from a report's answer: its short answer is the model's own when the passage it
        cites first supports it, else the learned reader's span of that passage. A passage of retrieval's
        comes with the model's `passage_confirmation` (`confirmed_passage_answer`)."""
        quotes, scores = [c.quote for c in answer.citations], [c.score for c in answer.citations]
        top_passage = passage_confirmation is not None
        return answer_inputs(
            self.chat_model,
            asked,
            answer.short_answer,
            quotes,
            scores,
            decision.features,
            top_passage,
            passage_confirmation,
        )

    def _whole_limit(self) -> int:
        """The most characters of documents the reader is shown whole: `read_whole_chars`, within the context
        left after the instructions (`READER_PROMPT_TOKENS`) and the reply."""
        model = self.settings.model
        room = (model.llm_context - model.max_answer_tokens - READER_PROMPT_TOKENS) * CHARS_PER_TOKEN
        return int(min(self.settings.grounding.read_whole_chars, max(0, room)))

    def prompt(self, question: Question, sources: list[str]):
        """The prompt: system text, then the sources, then the question, in that order so that the part
        shared with earlier prompts (system text and first source) comes first and is read from the cache.
        What the conversation is about (`referent`) is kept only when the prompt still fits the model's
        context with room for the answer (estimated at `CHARS_PER_TOKEN`), else left out."""
        from langchain_core.messages import HumanMessage, SystemMessage

        numbered = "\n".join(f"[{i}] {text}" for i, text in enumerate(sources, start=1))
        system = template("system")
        room = (self.settings.model.llm_context - self.settings.model.max_answer_tokens) * CHARS_PER_TOKEN
        user = render("answer", sources=numbered, history="", question=question.text)
        if about := question.about:
            earlier = f"Earlier question: {about}\n"
            with_history = render("answer", sources=numbered, history=earlier, question=question.text)
            if len(system) + len(with_history) <= room:
                user = with_history
        return [SystemMessage(system), HumanMessage(user)]

    def _short_answer(self, question: Question, evidence: list[Evidence]) -> str | None:
        """The span of the best evidence sentence that answers a question for a name, place, date or number,
        when one stands out (`short_answers`): it is the answer, without asking the model."""
        if not self.settings.grounding.short_answers or not evidence:
            return None
        return confident_short_answer(question, evidence[0].chunk.text)

    def compose(self, question: Question, generated: str, evidence: list[Evidence], short: str | None = None) -> Answer:
        """The answer, first of all: the short answer when there is a confident one, else the model's text
        when it passes the support checks, else the evidence quoted whole, naming its document."""
        texts = [e.chunk.text for e in evidence]
        if short is not None and self._short_stands(question, short, texts[0]):
            return Answer(
                answer=self._written_short(short),
                refused=False,
                short_answer=short,
                citations=[self._citation(1, evidence[0])],
                mode="short",
                retrieved=evidence,
            )
        verdicts, supported = verify_answer(generated, texts, self.settings.grounding.support_threshold)
        needed = best_extract(question.terms, texts)  # what model text must cite
        cited_anywhere = {n for _, cited, _ in verdicts for n in cited}
        usable = (
            supported
            and not is_non_answer(generated)
            and adds_information(generated, question.text, question.earlier)
            and not echoed_terms(generated, question.text, [texts[n - 1] for n in cited_anywhere])
            and all(i + 1 in cited_anywhere for i in needed)
            and completeness(generated, texts[0], question.text) >= self.settings.grounding.completeness
        )
        if usable:
            parts = [(sentence, cited) for sentence, cited, _ in verdicts]
            mode = "generated"
        else:
            parts = [(texts[i], [i + 1]) for i in best_extract(question.terms, texts, ties=True)]
            mode = "extractive"
        numbering: dict[int, int] = {}
        rendered = []
        for sentence, cited in parts:
            marks = "".join(f"[{numbering.setdefault(n, len(numbering) + 1)}]" for n in cited)
            rendered.append(f"{sentence.rstrip()} {marks}".strip())
        body = " ".join(rendered)
        if mode == "extractive":
            documents = list(dict.fromkeys(document_name(evidence[n - 1].chunk.source) for n in numbering))
            body = render("extractive", document=" and ".join(documents), quotes=body)
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
    def _written_short(short: str) -> str:
        return f"{short[:1].upper()}{short[1:]} [1]."

    def _short_stands(self, question: Question, short: str, passage: str) -> bool:
        """Whether a short answer stands on `passage` alone: the passage supports it and it says more than the
        question's own words."""
        written, passages = self._written_short(short), [" ".join(passage.split())]
        supported = verify_answer(written, passages, self.settings.grounding.support_threshold)[1]
        return supported and not echoed_terms(written, question.text, passages)

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

    def _refusal(self, decision: Decision) -> Answer:
        """An unsure decision shows the closest passages and says the documents do not state it directly;
        with nothing relevant indexed, a plain refusal. Counted as refusals either way."""
        if decision.outcome == "closest":
            closest = decision.ranked[:2]
            quotes = " ".join(f"“{' '.join(e.quote.split())}” [{n}]" for n, e in enumerate(closest, start=1))
            return Answer(
                answer=render("closest", quotes=quotes),
                refused=True,
                citations=[self._citation(n, e) for n, e in enumerate(closest, start=1)],
                confidence=decision.confidence,
                mode="closest",
                retrieved=decision.ranked,
            )
        return Answer(
            answer=template("refusal"),
            refused=True,
            confidence=decision.confidence,
            mode="refused",
            retrieved=decision.ranked,
        )
