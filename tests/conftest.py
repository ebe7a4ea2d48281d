"""Shared fixtures: one index of the brief built with the real embedder and the real Chroma, one Assistant with
the real local model, reused across tests (loading models is the slow part), `MockModel`, a fake chat model
for tests of one unit's edge cases (given to `Assistant(chat_model=...)`), and `fake_embedder`, a hashing
embedder for tests that need an embedder but assert nothing about what is retrieved."""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from tests.support import ROOT, indexed_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class MockModel(BaseChatModel):
    """A chat model that writes the given texts, one per call, in turn ("" once they run out), and keeps every
    prompt it was given. For one unit's edge cases only: behaviours are tested with the real model."""

    responses: list[str] = Field(default_factory=list)
    prompts: list[list] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "mock"

    def _next(self, messages) -> str:
        self.prompts.append(list(messages))
        return self.responses.pop(0) if self.responses else ""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self._next(messages)))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for piece in re.findall(r"\S+\s*|\s+", self._next(messages)) or [""]:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


class FakeEmbeddings(Embeddings):
    """A deterministic bag-of-words embedder: each word is hashed to a signed position of a vector of the real
    embedder's dimension, normalised to unit length. Texts sharing words come out close, which is all that a
    store, an index run or an upload needs; it knows nothing of meaning, so tests of what is retrieved or
    answered use the real embedder."""

    def __init__(self, dimension: int):
        self.dimension = dimension

    def vector(self, text: str) -> list[float]:
        v = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            v[h % self.dimension] += 1.0 if h >> 63 else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0:  # no words: still a unit vector, as a real embedder gives
            v[0], norm = 1.0, 1.0
        return (v / norm).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector(text)


@pytest.fixture
def fake_embedder(monkeypatch) -> FakeEmbeddings:
    """Make every `load_embeddings` give a `FakeEmbeddings` for this test: indexing, uploads and the Assistant
    then load no model. For a fresh data dir only (the store records the model's name, not that it was faked)."""
    from kernel import embedder

    for name in ("assistant", "index.pipeline"):  # imported first, so that each binding of `load_embeddings` is here
        importlib.import_module(name)

    real = embedder.load_embeddings
    fake = FakeEmbeddings(embedder.model_dimension(embedder.BUNDLED_MODEL))
    for module in list(sys.modules.values()):  # wherever a module of the project holds its own binding
        if getattr(module, "__dict__", {}).get("load_embeddings") is real:
            monkeypatch.setattr(module, "load_embeddings", lambda name=embedder.BUNDLED_MODEL: fake)
    return fake


@pytest.fixture(scope="session")
def brief_workspace(tmp_path_factory) -> Path:
    """A working directory holding a copy of seeds/, indexed into its own data dir (sources named seeds/...)."""
    work = tmp_path_factory.mktemp("workspace")
    shutil.copytree(ROOT / "seeds", work / "seeds")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        indexed_settings(work / ".brief", seeds=Path("seeds"))
    finally:
        os.chdir(cwd)
    return work


@pytest.fixture
def mocked(brief_workspace):
    """Make an Assistant over the indexed brief whose chat model is a `MockModel` writing `responses`."""
    from assistant import Assistant, load_settings

    def make(*responses: str):
        return Assistant(
            load_settings(data_dir=str(brief_workspace / ".brief")), chat_model=MockModel(responses=list(responses))
        )

    return make


@pytest.fixture(scope="session")
def assistant(brief_workspace):
    from assistant import Assistant, load_settings

    cwd = Path.cwd()
    os.chdir(brief_workspace)
    a = Assistant(load_settings(data_dir=str(brief_workspace / ".brief")))
    a.warm_up()
    yield a
    os.chdir(cwd)
