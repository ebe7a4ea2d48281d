"""The same limits through every door, set once in Settings: the chat's /ask (gradio_client), POST /api/ask and
/v1/chat/completions refuse the same over-long history with the same message (the CLI's --history: see
test_cli.py); and a long earlier question that would overflow the model's context is left out of the prompt
instead of failing the answer. Real server on loopback, real local model."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import MODEL_QUESTION, QUESTION, indexed_settings, served

TOO_MANY = [{"role": "user", "content": "What does Mali export?"}] * 51
TOO_LONG = [{"role": "user", "content": "Mali " * 201}, {"role": "assistant", "content": "It does."}]
MESSAGES = {
    "too_many": "the history has 51 turns; the limit is 50",
    "too_long": "history turn 0 (user) is 1005 characters long; the limit is 1000",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = indexed_settings(tmp_path_factory.mktemp("limits"), prefill_sentences=0)
    with served(settings) as (url, assistant):
        yield url, assistant


def validate(history):
    from assistant import load_settings
    from assistant.assistant import QuestionError, validate_history

    with pytest.raises(QuestionError) as info:
        validate_history(history, load_settings())
    return str(info.value)


@pytest.mark.parametrize(("case", "history"), [("too_many", TOO_MANY), ("too_long", TOO_LONG)])
def test_every_door_refuses_the_same_history_with_the_same_message(app, case, history):
    import json

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, _ = app
    message = MESSAGES[case]
    assert validate(history) == message  # the library
    response = httpx.post(url + "/api/ask", json={"question": QUESTION, "history": history}, timeout=60)
    assert response.status_code == 400 and response.json()["error"]["message"] == message
    body = {"model": "brief", "messages": [*history, {"role": "user", "content": QUESTION}]}
    response = httpx.post(url + "/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 400 and response.json()["error"]["message"] == message
    with pytest.raises(AppError, match=re.escape(message)):
        Client(url + "/", verbose=False).predict(QUESTION, json.dumps(history), api_name="/ask")


def test_the_body_limit_holds_at_the_api_and_the_chat(app):
    url, _ = app
    big = {"question": "Why? " * 300_000}  # 1.5 MB, over max_request_bytes
    for path in ("/api/ask", "/v1/chat/completions", "/gradio_api/queue/join", "/gradio_api/call/ask"):
        response = httpx.post(url + path, json=big, timeout=60)
        assert response.status_code == 413, (path, response.status_code)
        assert "larger than the limit of 1048576 bytes" in response.json()["error"]["message"]


def test_history_at_the_limit_is_answered(app):
    url, _ = app
    history = [{"role": "user", "content": "Tell me about Mali."}, {"role": "assistant", "content": "Sure."}] * 25
    response = httpx.post(url + "/api/ask", json={"question": QUESTION, "history": history}, timeout=120)
    assert response.status_code == 200 and "lithium" in response.json()["answer"].lower()


def test_an_earlier_question_too_long_for_the_context_is_left_out(tmp_path):
    """With a 512-token context, a 3,000-character earlier question (allowed by max_question_chars here)
    cannot fit beside the sources: the answer comes without it, instead of llama.cpp's context error."""
    from assistant import Assistant

    settings = indexed_settings(tmp_path / "small", llm_context=512, max_question_chars=4000, prefill_sentences=0)
    earlier = "Tell me everything the brief says about the Sahel, its history and its people. " * 38
    answer = Assistant(settings).ask(MODEL_QUESTION, history=[{"role": "user", "content": earlier}])
    assert not answer.refused and answer.citations
