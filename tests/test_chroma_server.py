"""The index and the assistant against a real Chroma server (`chroma run`) through `chroma_url`, and the
store's refusal to open a collection built with another embedding model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support import QUESTION, ROOT, child_server, free_port

CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    url = f"http://127.0.0.1:{port}"
    argv = [str(CHROMA), "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"]
    with child_server(argv, url + "/api/v2/heartbeat", timeout=60):
        yield url


@pytest.mark.slow  # a `chroma run` child process
def test_index_and_ask_through_a_chroma_server(chroma_url, tmp_path):
    from assistant import Assistant, load_settings
    from index.pipeline import index_paths

    settings = load_settings(data_dir=str(tmp_path / ".brief"), chroma_url=chroma_url, collection="served")
    report = index_paths([ROOT / "seeds"], settings, progress=False)
    assert report.errors == [] and len(report.added) == 1
    again = index_paths([ROOT / "seeds"], settings, progress=False)
    assert again.unchanged and not again.added  # the manifest lives on the server too
    assert not (tmp_path / ".brief" / "chroma").exists()  # nothing embedded locally

    assistant = Assistant(settings)
    answer = assistant.ask(QUESTION)
    assert not answer.refused and answer.citations
    quotes = " ".join(c.quote for c in answer.citations).lower()
    assert "lithium" in quotes and "uranium" in quotes
    assert assistant.store.count() > 5


@pytest.mark.slow  # a `chroma run` child process
def test_another_embedding_model_is_refused(chroma_url, tmp_path):
    from assistant import load_settings
    from index.pipeline import index_paths
    from index.store import ChunkStore, StoreError

    settings = load_settings(data_dir=str(tmp_path / ".brief"), chroma_url=chroma_url, collection="identity")
    index_paths([ROOT / "seeds"], settings, progress=False)
    with pytest.raises(StoreError, match=r"brief index --rebuild") as info:
        ChunkStore(settings.store, "some-other-embedding-model", 384)
    assert "embedding_model" in str(info.value)
    with pytest.raises(StoreError, match=r"brief index --rebuild"):
        ChunkStore(settings.store, "all-MiniLM-L6-v2", 768)


def test_an_unreachable_chroma_server_is_a_clear_error(tmp_path):
    from assistant import load_settings
    from index.pipeline import open_store
    from index.store import StoreError

    settings = load_settings(data_dir=str(tmp_path), chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        open_store(settings)
