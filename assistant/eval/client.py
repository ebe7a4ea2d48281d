"""Clients for a running `brief serve`, with the library's own `ask(question, history) -> Answer`.

`ApiClient` calls POST /api/ask; `OpenAIClient` calls POST /v1/chat/completions through the official `openai`
package and reads the citations from the response's extra fields. The evaluation workbench scores them exactly
as it scores an in-process `Assistant` (`brief eval --pipeline api --url URL`), so the three can be compared.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.answers import Answer, Citation, Timings


class RemoteError(RuntimeError):
    """The server could not be reached or answered with an error; the message says which."""


class ApiClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300):
        import httpx

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


class OpenAIClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300):
        try:
            import openai
        except ImportError as exc:
            raise RemoteError("the `openai` package is not installed (pip install openai)") from exc
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=url.rstrip("/") + "/v1", api_key=api_key or "not-needed", timeout=timeout, max_retries=0
        )

    def ask(self, question: str, history: Sequence[dict] | None = None) -> Answer:
        messages = [*(dict(turn) for turn in history or []), {"role": "user", "content": question}]
        try:
            completion = self._client.chat.completions.create(model="brief", messages=messages)
        except self._openai.OpenAIError as exc:
            raise RemoteError(f"{self._client.base_url}chat/completions failed: {exc}") from exc
        extra = completion.model_extra or {}
        return Answer(
            answer=completion.choices[0].message.content or "",
            refused=bool(extra.get("refused")),
            citations=[Citation.model_validate(c) for c in extra.get("citations", [])],
            mode=extra.get("mode", "generated"),
            short_answer=extra.get("short_answer", ""),
            confidence=extra.get("confidence", 0.0),
            timings=Timings.model_validate(extra.get("timings", {})),
            tokens_generated=completion.usage.completion_tokens if completion.usage else 0,
        )


def _message(response) -> str:
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
