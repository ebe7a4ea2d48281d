"""The OpenAI-compatible backend against a real llama.cpp HTTP server (xllamacpp) on loopback, serving the
bundled GGUF; and the configuration errors of the remote backends."""

from __future__ import annotations

import sys
import textwrap

import pytest

from assistant import Token
from tests.support import MODEL_QUESTION, QUESTION, child_server, free_port, indexed_settings

SERVER = textwrap.dedent(
    """
    import sys, time
    import xllamacpp
    from assistant.llm import bundled_gguf_path

    params = xllamacpp.CommonParams()
    params.model.path = str(bundled_gguf_path())
    params.model_alias = {"smollm2"} if isinstance(params.model_alias, set) else "smollm2"
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.hostnames = ["127.0.0.1"]
    params.port = int(sys.argv[1])
    params.verbosity = -1
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    while True:
        time.sleep(3600)
    """
)


@pytest.fixture(scope="module")
def llama_server():
    """llama.cpp's HTTP server (OpenAI-compatible /v1) in a child process on a free loopback port."""
    port = free_port()
    with child_server([sys.executable, "-c", SERVER, str(port)], f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("backends") / ".brief"
    indexed_settings(path)
    return path


@pytest.mark.slow  # llama.cpp's server in a child process
def test_openai_backend_answers_with_citations(llama_server, data_dir):
    from langchain_openai import ChatOpenAI

    from assistant import Assistant, load_settings

    settings = load_settings(
        data_dir=str(data_dir),
        llm_backend="openai",
        llm_base_url=llama_server,
        llm_model_name="smollm2",
        max_generated_sources=2,  # as for a bigger remote model: it is asked to combine both sentences
    )
    assistant = Assistant(settings)
    assert isinstance(assistant.chat_model, ChatOpenAI)
    answer = assistant.ask(QUESTION)
    assert not answer.refused and answer.citations and answer.timings.generate_s > 0
    assert answer.tokens_generated > 0  # the remote model really wrote (streamed) an answer
    quotes = " ".join(c.quote for c in answer.citations).lower()
    assert "lithium" in quotes and "uranium" in quotes
    assert "[1]" in answer.answer

    tokens = [event.text for event in assistant.ask_stream(QUESTION) if isinstance(event, Token)]
    assert len(tokens) > 1  # streamed token by token over HTTP


@pytest.mark.slow  # llama.cpp's server in a child process
def test_openai_backend_refuses_off_topic_without_calling_the_model(llama_server, data_dir):
    from assistant import Assistant, load_settings

    settings = load_settings(data_dir=str(data_dir), llm_backend="openai", llm_base_url=llama_server)
    answer = Assistant(settings).ask("What is the population of Mali?")
    assert answer.refused and answer.mode in ("closest", "refused") and answer.tokens_generated == 0


def test_remote_backend_needs_a_base_url():
    from assistant import load_settings
    from assistant.llm import ModelError, make_chat_model

    with pytest.raises(ModelError, match="llm_base_url"):
        make_chat_model(load_settings(llm_backend="openai").model)


def test_unreachable_openai_endpoint_is_a_model_error(data_dir):
    from assistant import Assistant, load_settings
    from assistant.llm import ModelError

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = load_settings(data_dir=str(data_dir), llm_backend="openai", llm_base_url=url)
    with pytest.raises(ModelError, match="cannot be reached"):
        Assistant(settings).ask(MODEL_QUESTION)


def test_unreachable_ollama_endpoint_is_a_model_error(data_dir):
    from langchain_ollama import ChatOllama

    from assistant import Assistant, load_settings
    from assistant.llm import ModelError

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = load_settings(data_dir=str(data_dir), llm_backend="ollama", llm_base_url=url, llm_model_name="m")
    assistant = Assistant(settings)
    assert isinstance(assistant.chat_model, ChatOllama)
    with pytest.raises(ModelError, match="cannot be reached"):
        assistant.ask(MODEL_QUESTION)


@pytest.mark.slow  # llama.cpp's server in a child process
def test_both_backends_report_the_probabilities_a_confirmation_is_read_from(llama_server, data_dir):
    """The reading check's confirmation (`model_reader.confirmed`) reads the first token's log-probabilities:
    llama.cpp in process and the OpenAI-compatible endpoint both give them, so it is a chance strictly between
    0 and 1 (the reply's text alone would give 0 or 1)."""
    from assistant import Assistant, load_settings
    from assistant.model_reader import confirmed
    from assistant.question import Question

    remote = load_settings(
        data_dir=str(data_dir), llm_backend="openai", llm_base_url=llama_server, llm_model_name="smollm2"
    )
    asked = Question.analyse("what minerals does mali have")
    quotes = ["The country holds reserves of critical minerals like lithium and uranium."]
    for settings in (load_settings(data_dir=str(data_dir)), remote):
        assert 0 < confirmed(Assistant(settings).chat_model, asked, "lithium and uranium", quotes) < 1
