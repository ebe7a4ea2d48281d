"""Clients of a running `brief serve`: one more `Pipeline` beside the in-process `Assistant`.

`ApiClient` calls POST /api/ask (and /api/ask/stream); `OpenAIClient` calls POST /v1/chat/completions through
the official `openai` package and reads the citations from the response's extra fields. The evaluation
workbench scores them exactly as it scores an in-process `Assistant` (`brief eval --pipeline api --url URL`),
so the three can be compared. A server reports no retrieval ranking: `rank` asks the local `ranker` given (the
same documents indexed locally), so retrieval metrics stay comparable. The server's JSON is read into the core's
own answer types (`Answer`, `Citation`, `Timings`), never the API's schemas: nothing here imports the shells.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from assistant.answers import Answer, Citation, Evidence, Timings
from assistant.pipeline import Final, Pipeline, StreamEvent, Token


class RemoteError(RuntimeError):
    """The server could not be reached or answered with an error; the message says which."""


class _Remote:
    def __init__(self, ranker: Pipeline | None):
        self._ranker = ranker

    def rank(self, question: str, history: Sequence[dict] | None = None, k: int = 10) -> list[Evidence]:
        if self._ranker is None:
            raise RemoteError("a server reports no retrieval ranking; give the client a local ranker")
        return self._ranker.rank(question, history, k=k)


class ApiClient(_Remote):
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300, ranker: Pipeline | None = None):
        import httpx

        super().__init__(ranker)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def ask(self, question: str, history: Sequence[dict] | None = None) -> Answer:
        import httpx

        try:
            response = self._http.post("/api/ask", json={"question": question, "history": list(history or [])})
        except httpx.HTTPError as exc:
            raise RemoteError(f"{self._http.base_url} cannot be reached: {exc}") from exc
        if response.status_code != 200:
            raise RemoteError(f"{self._http.base_url}/api/ask answered {response.status_code}: {_message(response)}")
        return Answer.model_validate(response.json())

    def ask_stream(self, question: str, history: Sequence[dict] | None = None) -> Iterator[StreamEvent]:
        import httpx

        body = {"question": question, "history": list(history or [])}
        try:
            with self._http.stream("POST", "/api/ask/stream", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise RemoteError(
                        f"{self._http.base_url}/api/ask/stream answered {response.status_code}: {_message(response)}"
                    )
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        data = json.loads(line.removeprefix("data: "))
                        if event == "token":
                            yield Token(data["text"])
                        elif event == "answer":
                            yield Final(Answer.model_validate(data))
                        else:
                            raise RemoteError(
                                f"{self._http.base_url}/api/ask/stream failed: {data['error']['message']}"
                            )
        except httpx.HTTPError as exc:
            raise RemoteError(f"{self._http.base_url} cannot be reached: {exc}") from exc


class OpenAIClient(_Remote):
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300, ranker: Pipeline | None = None):
        try:
            import openai
        except ImportError as exc:
            raise RemoteError("the `openai` package is not installed (pip install openai)") from exc
        super().__init__(ranker)
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=url.rstrip("/") + "/v1", api_key=api_key or "not-needed", timeout=timeout, max_retries=0
        )

    def ask(self, question: str, history: Sequence[dict] | None = None) -> Answer:
        try:
            completion = self._client.chat.completions.create(model="brief", messages=_messages(question, history))
        except self._openai.OpenAIError as exc:
            raise RemoteError(f"{self._client.base_url}chat/completions failed: {exc}") from exc
        tokens = completion.usage.completion_tokens if completion.usage else 0
        return _answer(completion.choices[0].message.content or "", completion.model_extra or {}, tokens)

    def ask_stream(self, question: str, history: Sequence[dict] | None = None) -> Iterator[StreamEvent]:
        """The server streams the verified answer in pieces; its last chunk carries the citations."""
        pieces: list[str] = []
        try:
            stream = self._client.chat.completions.create(
                model="brief", messages=_messages(question, history), stream=True
            )
            for chunk in stream:
                extra = chunk.model_extra or {}
                if "error" in extra:
                    raise RemoteError(f"{self._client.base_url}chat/completions failed: {extra['error']['message']}")
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    pieces.append(delta)
                    yield Token(delta)
                if chunk.choices and chunk.choices[0].finish_reason:
                    yield Final(_answer("".join(pieces), extra, 0))
        except self._openai.OpenAIError as exc:
            raise RemoteError(f"{self._client.base_url}chat/completions failed: {exc}") from exc


def _messages(question: str, history: Sequence[dict] | None) -> list[dict]:
    return [*(dict(turn) for turn in history or []), {"role": "user", "content": question}]


def _answer(content: str, extra: dict, tokens_generated: int) -> Answer:
    """An `Answer` from the OpenAI-compatible response's content and extra fields."""
    return Answer(
        answer=content,
        refused=bool(extra.get("refused")),
        citations=[Citation.model_validate(c) for c in extra.get("citations", [])],
        mode=extra.get("mode", "generated"),
        short_answer=extra.get("short_answer", ""),
        confidence=extra.get("confidence", 0.0),
        timings=Timings.model_validate(extra.get("timings", {})),
        tokens_generated=tokens_generated,
    )


def _message(response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
