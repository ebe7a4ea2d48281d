"""Shared fixtures: one index of the brief built with the real embedder and the real Chroma, and one
Assistant with the real local model, reused across tests (loading models is the slow part)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BRIEF = ROOT / "seeds" / "us-mali-reengagement-brief.txt"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def brief_workspace(tmp_path_factory) -> Path:
    """A working directory holding a copy of seeds/, indexed into its own data dir."""
    from assistant import load_settings
    from index.pipeline import index_paths

    work = tmp_path_factory.mktemp("workspace")
    shutil.copytree(ROOT / "seeds", work / "seeds")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        settings = load_settings(data_dir=str(work / ".brief"))
        report = index_paths([Path("seeds")], settings, progress=False)
        assert report.errors == [] and len(report.added) == 1
    finally:
        os.chdir(cwd)
    return work


@pytest.fixture(scope="session")
def assistant(brief_workspace):
    from assistant import Assistant, load_settings

    cwd = Path.cwd()
    os.chdir(brief_workspace)
    a = Assistant(load_settings(data_dir=str(brief_workspace / ".brief")))
    a.warm_up()
    yield a
    os.chdir(cwd)


def run_brief(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `brief` command line in a subprocess."""
    full_env = os.environ | {"BRIEF_DATA_DIR": str(cwd / ".brief")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
