"""The store at a size the brief alone never reaches: more chunks than SQLite binds in one statement."""

import numpy as np
import pytest

from assistant import load_settings
from index.store import ChunkStore, ManifestEntry
from kernel.types import Chunk

pytestmark = pytest.mark.slow  # writes 33,766 chunks into Chroma

# Chroma binds one SQL variable per row it reads, and SQLite allows 32,766 per statement: one `get` of every
# chunk failed with "too many SQL variables" on the 100k-sentence corpus of issue 14.
SQLITE_MAX_VARIABLES = 32_766
N_CHUNKS = SQLITE_MAX_VARIABLES + 1_000
DIMENSION = 8  # random vectors: the embedder is not what is under test, and a small one writes fast
WRITE_BATCH = 5_000  # under Chroma's largest batch


def test_reads_page_past_sqlites_variable_limit(tmp_path):
    settings = load_settings(data_dir=str(tmp_path / "data"))
    store = ChunkStore(settings.store, "random-test-vectors", DIMENSION)
    rng = np.random.default_rng(0)
    path, doc_hash = "/docs/big.txt", "h" * 64
    sentence = "Sentence {} of the big document."
    text = " ".join(sentence.format(i) for i in range(N_CHUNKS))
    offsets, start = [], 0
    for i in range(N_CHUNKS):
        end = start + len(sentence.format(i))
        offsets.append((start, end))
        start = end + 1
    for first in range(0, N_CHUNKS, WRITE_BATCH):
        batch = range(first, min(first + WRITE_BATCH, N_CHUNKS))
        chunks = [
            Chunk(
                id=f"big-{i}",
                text=sentence.format(i),
                source="big.txt",
                start=offsets[i][0],
                end=offsets[i][1],
                position=i,
                doc_hash=doc_hash,
            )
            for i in batch
        ]
        store.add_chunks(chunks, path, rng.standard_normal((len(chunks), DIMENSION)).astype(np.float32))
    store.commit_document(
        ManifestEntry(
            path=path, source="big.txt", doc_hash=doc_hash, n_chunks=N_CHUNKS, kind="text", indexed_at=0.0, text=text
        )
    )
    # An orphan of an interrupted run: stored but not committed, so never read back.
    store.add_chunks(
        [Chunk(id="orphan", text="Half written.", source="gone.txt", start=0, end=13, doc_hash="x")],
        "/docs/gone.txt",
        rng.standard_normal((1, DIMENSION)).astype(np.float32),
    )

    # What `ask` reads: every committed chunk, the manifest, its version, one document's chunks (the lexical
    # index's sync), a dense query.
    chunks = store.all_chunks()
    assert len(chunks) == N_CHUNKS and store.count() == N_CHUNKS + 1
    assert [c.position for c in chunks] == list(range(N_CHUNKS)), "each chunk once, in document order"
    assert all(text[c.start : c.end] == c.text for c in chunks[:: N_CHUNKS // 50])
    assert list(store.documents()) == [path] and store.committed() == {path: doc_hash}
    assert path in store.version()
    entry, document_chunks = store.committed_document(path)
    assert entry.doc_hash == doc_hash and len(document_chunks) == N_CHUNKS
    hits = store.query(rng.standard_normal(DIMENSION).tolist(), k=10)
    assert len(hits) == 10 and all(c.source == "big.txt" for c, _ in hits)
