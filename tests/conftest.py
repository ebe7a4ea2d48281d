"""Shared fixtures: one index of the brief built with the real embedder and the real Chroma, one Assistant with
the real local model, reused across tests (loading models is the slow part), and `MockModel`, a fake chat model
for tests of one unit's edge cases (given to `Assistant(chat_model=...)`)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
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
