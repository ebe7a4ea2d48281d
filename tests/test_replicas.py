"""Scale out: deploy/scale-out.sh starts a real `chroma run`, llama.cpp's OpenAI-compatible server (xllamacpp)
and two `brief serve` replicas on loopback; a document uploaded through one replica is answerable through the
other at once, and the script's exit ends every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest

from tests.support import ROOT, free_port, wait_for_http

pytestmark = pytest.mark.slow  # deploy/scale-out.sh starts Chroma, llama.cpp's server and two replicas

SCRIPT = ROOT / "deploy" / "scale-out.sh"
UPLOAD = (
    "Harbour notes\n\n"
    "The lighthouse keeper of Port Ellery records every passing ship in a brass-bound ledger. "
    "The ledger has been kept since 1887.\n"
)
QUESTION = "What does the lighthouse keeper of Port Ellery record in the ledger?"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """The deploy script running; yields (data root, [replica URL, replica URL])."""
    import sys

    data_root = tmp_path_factory.mktemp("scale-out")
    ports = [free_port(), free_port()]
    env = os.environ | {
        "PYTHON": sys.executable,
        "DATA_ROOT": str(data_root),
        "CHROMA_PORT": str(free_port()),
        "MODEL_PORT": str(free_port()),
        "BRIEF_PORTS": " ".join(map(str, ports)),
    }
    script = subprocess.Popen(["bash", str(SCRIPT)], cwd=ROOT, env=env, start_new_session=True)
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            wait_for_http(url + "/readyz", timeout=300, process=script)
        yield data_root, urls
    finally:
        script.send_signal(signal.SIGTERM)
        try:
            script.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(script.pid, signal.SIGKILL)
            raise
    for url in urls:  # the script stopped its replicas (and the servers) on its way out
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/healthz", timeout=2)


def test_an_upload_through_one_replica_is_answerable_through_the_other(replicas):
    data_root, (first, second) = replicas
    before = httpx.post(second + "/api/ask", json={"question": QUESTION}, timeout=300).json()
    assert before["refused"]  # not in the brief

    uploaded = httpx.post(first + "/api/documents", files={"file": ("harbour.txt", UPLOAD.encode())}, timeout=120)
    assert uploaded.status_code == 201, uploaded.text
    done = time.monotonic()
    while True:  # the other replica re-reads the shared manifest at most about a second after a change
        asked = time.monotonic() - done
        answer = httpx.post(second + "/api/ask", json={"question": QUESTION}, timeout=300).json()
        if not answer["refused"] or asked > 5:
            break
        time.sleep(0.1)
    assert not answer["refused"], answer
    assert asked <= 5  # a question asked within 5 s of the upload is answered from it
    cited = answer["citations"][0]
    assert cited["source"].endswith("harbour.txt") and "brass-bound ledger" in cited["quote"]
    assert cited["quote"] == " ".join(UPLOAD.split("\n\n")[1].split(". ")[0].split()) + "."

    # The bytes stay on the replica that received them; the other answers from the shared store alone.
    first_dir, second_dir = (data_root / f"replica-{url.rsplit(':', 1)[1]}" for url in (first, second))
    assert (first_dir / "uploads" / "harbour.txt").read_text() == UPLOAD
    assert not (second_dir / "uploads").exists()
    assert (second_dir / "lexical").is_dir()  # each replica's own lexical cache
    listed = httpx.get(second + "/api/documents", timeout=30).json()["documents"]
    assert any(d["source"].endswith("harbour.txt") for d in listed)
