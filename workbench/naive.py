"""The LangChain tutorial recipe, kept as a baseline to measure against: recursive 500/50 character chunks,
dense top-4 from Chroma, one "stuff" prompt, the same embedder and model. No lexical search, no refusal
logic beyond what the model says, no citation check."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

from assistant.answers import Answer, Citation, Evidence, Timings
from assistant.grounding import is_non_answer
from assistant.pipeline import Final, StreamEvent
from assistant.prompts import template
from index.documents import DocumentService
from kernel.settings import Settings
from kernel.types import Chunk

NAIVE_SUFFIX = "__naive"


class NaivePipeline:
    def __init__(self, settings: Settings, store, embeddings, chat_model):
        self.settings = settings
        self.store = store
        self.embeddings = embeddings
        self.chat_model = chat_model
        self._vectors = None

    def build(self) -> None:
        """(Re)build the baseline's own collection from the documents in the main index."""
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        name = self.settings.store.collection + NAIVE_SUFFIX
        with contextlib.suppress(Exception):  # absent already
            self.store.client.delete_collection(name)
        self._vectors = Chroma(collection_name=name, embedding_function=self.embeddings, client=self.store.client)
        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50, add_start_index=True)
        texts = DocumentService(self.store, self.settings).texts()
        documents = [Document(page_content=text, metadata={"source": source}) for source, text in texts.items()]
        chunks = splitter.split_documents(documents)
        if chunks:
            self._vectors.add_documents(chunks)

    def rank(self, question: str, history: Sequence | None = None, k: int = 10) -> list[Evidence]:
        if self._vectors is None:
            self.build()
        hits = self._vectors.similarity_search_with_score(question, k=k)
        out = []
        for i, (doc, distance) in enumerate(hits):
            score = 1.0 - distance / 2  # squared L2 between unit vectors -> cosine
            start = int(doc.metadata.get("start_index", 0))
            chunk = Chunk(
                id=f"naive-{i}",
                text=doc.page_content,
                source=doc.metadata["source"],
                start=start,
                end=start + len(doc.page_content),
                position=i,
            )
            out.append(Evidence(chunk=chunk, quote=doc.page_content, score=round(float(score), 4)))
        return out

    def ask_stream(self, question: str, history: Sequence | None = None) -> Iterator[StreamEvent]:
        """The recipe does not stream: its one answer, as the final event."""
        yield Final(self.ask(question, history))

    def ask(self, question: str, history: Sequence | None = None) -> Answer:
        from langchain_core.messages import HumanMessage

        started = time.perf_counter()
        evidence = self.rank(question, history, k=4)
        retrieved = time.perf_counter()
        context = "\n\n".join(e.chunk.text for e in evidence)
        prompt = template("naive").format(question=question, context=context)
        result = self.chat_model.invoke([HumanMessage(prompt)], max_tokens=self.settings.model.max_answer_tokens)
        text = result.content.strip() if isinstance(result.content, str) else ""
        done = time.perf_counter()
        citations = [
            Citation(
                marker=i,
                source=e.chunk.source,
                section="",
                quote=e.quote,
                start=e.chunk.start,
                end=e.chunk.end,
                score=e.score,
            )
            for i, e in enumerate(evidence, start=1)
        ]
        refused = is_non_answer(text)
        return Answer(
            answer=text,
            refused=refused,
            short_answer="" if refused else text,
            citations=[] if refused else citations,
            timings=Timings(
                retrieve_s=round(retrieved - started, 4),
                generate_s=round(done - retrieved, 4),
                total_s=round(done - started, 4),
            ),
            mode="naive",
            retrieved=evidence,
            tokens_generated=int((result.response_metadata or {}).get("completion_tokens", 0)),
        )
