"""`brief ask` reuses a running `brief serve` over the same data dir (a real child process), and answers in
its own process when there is none, when the server's file is stale, or when it lacks the secret."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support import QUESTION, ROOT, free_port, indexed_settings, wait_for_http

pytestmark = pytest.mark.slow  # runs `brief serve` and `brief ask` as child processes

SECRET = "reuse-secret"


def brief(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    """`brief` from a cold process, with -X importtime so the test sees what it loaded."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "shells.cli", *args],
        cwd=cwd,
        env=os.environ | {"BRIEF_DATA_DIR": str(cwd / ".brief")} | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
    )


def loaded_chroma(result: subprocess.CompletedProcess) -> bool:
    return any(line.rstrip().endswith("| chromadb") for line in result.stderr.splitlines())


def answered(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert not answer["refused"] and "lithium" in " ".join(c["quote"] for c in answer["citations"]).lower()
    return answer


def test_ask_reuses_a_running_server_and_falls_back_without_one(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    settings = indexed_settings(tmp_path / ".brief")
    serve_file = settings.store.data_dir / "serve.json"
    port = free_port()
    env = os.environ | {"BRIEF_DATA_DIR": str(settings.store.data_dir), "BRIEF_PREFILL_SENTENCES": "0"}
    argv = [sys.executable, "-m", "shells.cli", "serve", "--port", str(port), "--api-key", SECRET]
    server = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/readyz", timeout=120, process=server)
        record = json.loads(serve_file.read_text())
        assert record["url"] == f"http://127.0.0.1:{port}" and record["pid"] == server.pid

        remote = brief("ask", "--json", QUESTION, cwd=tmp_path, env={"BRIEF_API_KEY": SECRET})
        answered(remote)
        assert not loaded_chroma(remote)  # the server answered: this process never opened the store

        refused = brief("ask", "--json", QUESTION, cwd=tmp_path, env={"BRIEF_API_KEY": "wrong"})
        answered(refused)
        assert loaded_chroma(refused)  # 401 from the server: answered in process instead
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not serve_file.exists()  # removed on SIGTERM

    serve_file.write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "pid": server.pid, "collection": "brief"}))
    stale = brief("ask", "--json", QUESTION, cwd=tmp_path, env={"BRIEF_API_KEY": SECRET})
    answered(stale)  # a file left by a killed server is ignored
    assert loaded_chroma(stale)
