"""The tip generations running in this process: one per user and set of inputs, in the
background of whoever asked first; a bounded number of them call the model at once, and a
generation still queued when the same user's inputs change again gives way to the newer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]
"""(user id, input fingerprint)."""


class Generations(Generic[T]):
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one generation must be allowed at a time")
        self._limit = limit
        self._slots: asyncio.Semaphore | None = None
        self._running: dict[Key, asyncio.Task[T]] = {}
        self._latest: dict[str, Key] = {}

    def start(self, key: Key, work: Callable[[], Coroutine[object, object, T]]) -> asyncio.Task[T]:
        """The running generation for ``key``, or a new one. It runs whether or not anyone
        waits for it."""
        loop = asyncio.get_running_loop()
        running = self._running.get(key)
        if running is not None and not running.done() and running.get_loop() is loop:
            return running
        task = loop.create_task(work(), name=f"tip-generation:{key[0]}")
        self._running[key] = task
        self._latest[key[0]] = key
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def superseded(self, key: Key) -> asyncio.Task[T] | None:
        """The generation started for the same user after ``key``'s, while it runs: a
        generation that has not called the model yet serves that one's tip instead of
        writing one for inputs already replaced (under churn, each user's queue would
        otherwise hold every past set of inputs, and the newest tip would come last)."""
        latest = self._latest.get(key[0])
        if latest is None or latest == key:
            return None
        task = self._running.get(latest)
        return None if task is None or task.done() else task

    def running(self, key: Key) -> bool:
        task = self._running.get(key)
        return task is not None and not task.done()

    @property
    def active(self) -> int:
        return sum(not t.done() for t in self._running.values())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` places for a model call; the others queue."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._limit)
        async with self._slots:
            yield

    def _finished(self, key: Key, task: asyncio.Task[T]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
            if self._latest.get(key[0]) == key:
                del self._latest[key[0]]
        if not task.cancelled() and task.exception() is not None:
            # Nobody may be waiting for it: say what went wrong here, once.
            log.error("a tip generation failed", exc_info=task.exception())
