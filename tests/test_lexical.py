"""Lexical search (SQLite FTS5) and its sync from the store: real embedder, real Chroma, real SQLite files."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from assistant import load_settings
from assistant.retrieval import MANIFEST_MAX_AGE_S, HybridRetriever, make_retriever
from index.lexical import IndexedDocument, LexicalIndex, lexical_index_path
from index.pipeline import index_paths, open_store
from kernel.embedder import load_embeddings
from kernel.types import Chunk
from tests.support import BRIEF

# Thirty error codes explained alike, and one explained differently: a sentence embedder reads the code's
# characters as noise and ranks the look-alike explanations first (the sentence is 31st of 31 alone).
CODES = "\n".join(
    f"Code E{n} means the pump controller lost contact with its pressure sensor." for n in range(4400, 4430)
)
RARE = "E4471 is logged when the filter housing is opened during a cycle."
QUESTION = "What does error E4471 mean?"


class CountingStore:
    """The real store, counting how many documents the lexical sync fetches; reading every chunk is refused."""

    def __init__(self, store):
        self._store = store
        self.fetched: list[str] = []

    def committed_document(self, path):
        self.fetched.append(Path(path).name)
        return self._store.committed_document(path)

    def all_chunks(self):
        raise AssertionError("the lexical index must not reload every chunk")

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """seeds' brief plus a file of error codes, indexed into their own data dir."""
    root = tmp_path_factory.mktemp("lexical")
    docs = root / "docs"
    docs.mkdir()
    shutil.copy(BRIEF, docs / "brief.txt")
    (docs / "codes.txt").write_text(CODES + "\n" + RARE + "\n")
    settings = load_settings(data_dir=str(root / "data"))
    assert index_paths([docs], settings, progress=False).errors == []
    return settings, docs


def retriever_for(settings) -> tuple[HybridRetriever, CountingStore]:
    store = CountingStore(open_store(settings))
    return make_retriever(settings, store, load_embeddings(settings.model.embedding_model)), store


def test_lexical_search_finds_an_exact_rare_term_that_dense_search_misses(workspace):
    settings, _ = workspace
    retriever, store = retriever_for(settings)
    vector = retriever.embeddings.embed_query(QUESTION)
    dense = [c.text for c, _ in store.query(vector, 5)]
    assert RARE not in dense, "the dense search alone should miss the sentence naming E4471"
    retriever.sync()
    assert [c.text for c, _ in retriever.lexical.search(QUESTION, 5)][0] == RARE
    fused = {e.chunk.text: e for e in retriever.retrieve(QUESTION, k=3)}
    assert fused[RARE].lexical_rank == 1 and fused[RARE].dense_rank is None
    assert fused[RARE].quote == RARE  # the verbatim text at [start, end) of the file


def test_a_small_collection_is_handed_over_whole_in_document_order(workspace):
    """`whole` gives every sentence of both documents, in document order, the retrieved ones with their
    evidence; over the character limit it gives nothing."""
    settings, docs = workspace
    retriever, _ = retriever_for(settings)
    retrieved = retriever.retrieve(QUESTION, k=3)
    total = sum(len(c.text) for c in retriever.lexical.all_sentences(10**9))
    every = retriever.whole(total, retrieved)
    assert len(every) == retriever.lexical.count() == 31 + 15
    assert [(e.chunk.source, e.chunk.start) for e in every] == sorted((e.chunk.source, e.chunk.start) for e in every)
    assert [e for e in every if e.chunk.id in {r.chunk.id for r in retrieved}] == sorted(
        retrieved, key=lambda e: (e.chunk.source, e.chunk.start)
    )
    assert all(e.quote == e.chunk.text for e in every if e.chunk.source.endswith("codes.txt"))
    assert retriever.whole(total - 1, retrieved) is None


def test_an_added_document_is_searchable_at_once_and_only_it_is_fetched(workspace, tmp_path):
    settings, docs = workspace
    settings = settings.replace(data_dir=tmp_path / "data")
    shutil.copytree(
        Path(workspace[0].store.data_dir), settings.store.data_dir, ignore=shutil.ignore_patterns("lexical")
    )
    retriever, store = retriever_for(settings)
    assert sorted(retriever.sync()) == sorted(str(p.resolve()) for p in docs.iterdir())
    retriever, store = retriever_for(settings)  # a new process: the index on disk is current, nothing is read
    assert retriever.sync() == [] and store.fetched == []

    extra = tmp_path / "pumps.md"
    extra.write_text("# Pumps\n\nThe Quillfeather pump lifts 310 litres a second.\n")
    index_paths([extra], settings, progress=False, store=store._store)
    store.fetched.clear()
    hits = retriever.retrieve("How much does the Quillfeather pump lift?", k=3)
    assert hits[0].chunk.text == "The Quillfeather pump lifts 310 litres a second."
    assert hits[0].chunk.section == "Pumps" and hits[0].lexical_rank == 1
    assert store.fetched == ["pumps.md"]  # one document read from the store, not the corpus

    open_store(settings).remove_document(str(extra.resolve()))  # as another process (a replica) would
    time.sleep(MANIFEST_MAX_AGE_S)
    store.fetched.clear()
    hits = retriever.retrieve("How much does the Quillfeather pump lift?", k=3)
    assert all("Quillfeather" not in h.chunk.text for h in hits)
    assert retriever.lexical.search("Quillfeather", 5) == [] and store.fetched == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "stale"])
def test_a_damaged_or_stale_cache_file_is_synced_again(workspace, tmp_path, damage):
    settings, docs = workspace
    settings = settings.replace(data_dir=tmp_path / "data")
    shutil.copytree(
        Path(workspace[0].store.data_dir), settings.store.data_dir, ignore=shutil.ignore_patterns("lexical")
    )
    cache = lexical_index_path(settings.store)
    if damage == "stale":  # a cache holding only the brief, from before codes.txt was added
        stale = LexicalIndex(cache)
        brief = open_store(settings).committed_document(str((docs / "brief.txt").resolve()))
        entry, chunks = brief
        stale.put(IndexedDocument(entry.path, entry.version, entry.source, entry.text, chunks))
        stale.close()
    else:
        synced = retriever_for(settings)[0]
        synced.sync()
        synced.lexical.close()
        data = cache.read_bytes()
        cache.write_bytes(b"not a database" * 100 if damage == "garbage" else data[: len(data) // 2])

    retriever, store = retriever_for(settings)
    retriever.retrieve(QUESTION, k=3)
    expected = ["codes.txt"] if damage == "stale" else ["brief.txt", "codes.txt"]
    assert sorted(store.fetched) == expected
    assert [c.text for c, _ in retriever.lexical.search(QUESTION, 1)] == [RARE]
    assert retriever.lexical.count() == 15 + 31


def _document(path: str, version: str, texts: list[str], section: str = "") -> IndexedDocument:
    """A document of these sentences, one space apart, each with its offsets in the document's text."""
    chunks, start = [], 0
    for i, text in enumerate(texts):
        chunks.append(
            Chunk(
                id=f"{version}-{i}",
                text=text,
                source=path,
                section=section,
                start=start,
                end=start + len(text),
                position=i,
            )
        )
        start += len(text) + 1
    return IndexedDocument(path, version, path, " ".join(texts), chunks)


def test_bm25_ranks_exact_terms_first_and_updates_in_place():
    index = LexicalIndex(None)
    index.put(
        _document("/notes.txt", "v1", ["Gold and lithium.", "Security cooperation.", "Lithium, lithium and uranium."])
    )
    assert [c.text for c, _ in index.search("uranium", 3)] == ["Lithium, lithium and uranium."]
    assert [c.text for c, _ in index.search("lithium", 3)][0] == "Lithium, lithium and uranium."
    assert index.search("nothing matches", 3) == [] and index.search("the of", 3) == []
    assert index.previous("v1-2").text == "Security cooperation." and index.previous("v1-0") is None
    assert index.quote("v1-1") == "Security cooperation."  # the document's text[start:end]

    index.put(_document("/notes.txt", "v2", ["Copper."]))
    assert index.search("uranium", 3) == [] and index.versions() == {"/notes.txt": "v2"}
    index.remove("/notes.txt")
    assert index.search("copper", 3) == [] and index.count() == 0


def test_a_sentence_matches_its_section_and_document_title():
    index = LexicalIndex(None)
    text = "pg_dump\nDescription\nIt makes consistent backups."
    start = text.index("It")
    sentence = Chunk(id="s", text=text[start:], source="pg.html", section="Description", start=start, end=len(text))
    index.put(IndexedDocument("/pg.html", "v1", "pg.html", text, [sentence]))
    assert [c.text for c, _ in index.search("pg_dump description", 1)] == ["It makes consistent backups."]


def test_a_fragment_does_not_outscore_a_sentence_for_being_short():
    """BM25 alone puts 'Limitations of pg_dump.' first for 'pg_dump', above the page's defining sentence."""
    index = LexicalIndex(None)
    sentences = [
        "Limitations of pg_dump.",
        "pg_dump is a utility for backing up a PostgreSQL database.",
    ]
    others = [f"Table {n} holds the rows that the planner reads when statistics are stale." for n in range(8)]
    index.put(_document("/pg.txt", "v1", sentences + others))
    scores = {c.text: score for c, score in index.search("pg_dump", 3)}
    assert scores.keys() == set(sentences) and scores[sentences[0]] == pytest.approx(scores[sentences[1]])
