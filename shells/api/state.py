"""What the routers share: the Assistant, the secrets, readiness, and the admission gate for model work.

Requests are queued, not dropped: blocking work runs in worker threads (the local model itself is serialised
by its own lock), and up to `max_pending` requests wait their turn. Past that the server answers 503 with
Retry-After. No per-request state is kept here: each request carries its own question and history.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import anyio

from assistant.llm import cancelled_when
from shells.api.errors import ApiError
from shells.api.security import health_only

RETRY_AFTER_S = 5


@dataclass
class Limits:
    """The server's capacity (the limits on what a request may hold are in `Settings`, for every door)."""

    max_pending: int = 64  # model requests running or waiting; more get 503 + Retry-After
    workers: int = 2  # threads running retrieval + generation (generation itself is serialised)


@dataclass
class ApiState:
    assistant: object
    settings: object
    secrets: tuple[str, ...]  # any one opens every door (see security.SecretGate); none: all open
    limits: Limits
    is_public: Callable[[str, str], bool] = health_only  # routes open even with a secret
    sessions: list[Callable[[dict], bool]] = field(default_factory=list)  # login-cookie checks (the web chat)
    ready: bool = False
    not_ready_reason: str = "the model is loading"
    _pending: int = 0
    _limiter: anyio.CapacityLimiter | None = None
    _tasks: set = field(default_factory=set)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created lazily: it binds to the running event loop
            self._limiter = anyio.CapacityLimiter(self.limits.workers)
        return self._limiter

    def mark_ready(self) -> None:
        self.ready = True

    def require_ready(self) -> None:
        if not self.ready:
            raise ApiError(503, f"not ready: {self.not_ready_reason}", headers={"Retry-After": str(RETRY_AFTER_S)})

    def admit(self) -> None:
        """Count a model request in; 503 when the queue is full. Call `release` exactly once afterwards."""
        self.require_ready()
        if self._pending >= self.limits.max_pending:
            raise ApiError(
                503,
                f"the server is busy ({self._pending} requests queued); retry shortly",
                type="overloaded",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self._pending += 1  # the event loop is single-threaded: no lock needed

    def release(self) -> None:
        self._pending -= 1

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, fn: Callable, *args):
        """Run blocking model work in a worker thread, counted against the queue."""
        self.admit()
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        finally:
            self.release()

    def start_stream(self, make: Callable[[], Iterator]) -> AsyncIterator:
        """Admit a request and start iterating the blocking generator `make()` in a worker thread now; return
        an async iterator over its items. The queue slot is released when the thread ends, so it cannot leak
        even if the client goes away before reading anything. When the consumer stops (the client went away),
        the local model stops generating at its next token, or skips the request if it has not started
        (`assistant.llm.cancelled_when`), and the generator is closed."""
        self.admit()
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()
        done = object()
        cancelled = threading.Event()

        def produce():
            try:
                with cancelled_when(cancelled), contextlib.closing(make()) as made:
                    for item in made:
                        loop.call_soon_threadsafe(items.put_nowait, item)
                        if cancelled.is_set():
                            break
            except BaseException as exc:  # noqa: BLE001 (re-raised in the consumer)
                loop.call_soon_threadsafe(items.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(items.put_nowait, done)

        async def run_in_thread():
            try:
                await anyio.to_thread.run_sync(produce, limiter=self.limiter)
            finally:
                self.release()

        task = asyncio.ensure_future(run_in_thread())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        async def consume():
            try:
                while (item := await items.get()) is not done:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                cancelled.set()

        return consume()


def get_state(request) -> ApiState:
    return request.app.state.brief
