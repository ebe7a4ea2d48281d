"""The web app's /ask API, driven through gradio_client against the real app (real embedder, Chroma and
local model) on a free loopback port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import indexed_settings, served

REPO = Path(__file__).resolve().parent.parent
MINERALS = "Which critical minerals does Mali hold reserves of?"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO)  # sources are shown relative to the working directory
    settings = indexed_settings(tmp_path_factory.mktemp("brief-ui-client"))
    try:
        with served(settings) as (url, _):
            yield url + "/"
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def source_text(source: str) -> str:
    path = Path(source)
    return (path if path.is_absolute() else REPO / path).read_text(encoding="utf-8")


def test_ask_cites_the_brief(client):
    result = client.predict(MINERALS, api_name="/ask")
    assert set(result) >= {"answer", "refused", "citations", "timings", "mode"}
    assert result["refused"] is False
    text = result["answer"].lower()
    assert "lithium" in text and "uranium" in text
    assert result["citations"]
    for c in result["citations"]:
        assert source_text(c["source"])[c["start"] : c["end"]] == c["quote"]


def test_ask_refuses_what_the_brief_does_not_cover(client):
    result = client.predict("What is Mali's population?", api_name="/ask")
    assert result["refused"] is True
    assert result["answer"].startswith("The documents do not")


def test_ask_takes_history_as_json(client):
    history = json.dumps(
        [
            {"role": "user", "content": MINERALS},
            {"role": "assistant", "content": "Lithium and uranium."},
            {"role": "user", "content": "Why does the U.S. care about them?"},
            {"role": "assistant", "content": "They are essential for various industries."},
        ]
    )
    result = client.predict("Which industries are they essential for?", history, api_name="/ask")
    assert result["refused"] is False
    assert any("technology and defense" in c["quote"] for c in result["citations"])


def test_ask_reports_bad_questions(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="history"):
        client.predict(MINERALS, "not json", api_name="/ask")


def test_stream_endpoint_ends_with_the_final_answer(client):
    job = client.submit(MINERALS, "[]", api_name="/ask_stream")
    outputs = list(job)
    final = job.outputs()[-1]
    assert outputs
    assert "lithium" in final.lower()
