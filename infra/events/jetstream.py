"""Publish outbox events to NATS JetStream, from the (synchronous) outbox relay.

Subjects (see README, "Events"): ``nudge_infra.events.<topic>`` on the ``NUDGE_EVENTS`` stream
(limits retention, file storage, deduplicated on ``Nats-Msg-Id`` = the outbox id) and
``nudge.jobs.>`` on the ``NUDGE_JOBS`` stream (work-queue retention, for precompute
workers). Both are created or updated idempotently when a connection is made.

nats-py is asynchronous; the relay is a thread. The publisher owns an event loop in a
thread of its own and the relay waits on each publish acknowledgement, so a row is
marked published only after JetStream has stored it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from nudge_infra.events.bus import Event
from nudge_infra.events.codec import SUBJECT_PREFIX, encode, subject_of

log = logging.getLogger(__name__)

EVENTS_STREAM = "NUDGE_EVENTS"
JOBS_STREAM = "NUDGE_JOBS"
JOBS_PREFIX = "nudge.jobs."
DEAD_STREAM = "NUDGE_DEAD"
DEAD_PREFIX = "nudge.dead."
T = TypeVar("T")


def message_id(event: Event) -> str:
    """``Nats-Msg-Id``: the outbox id, qualified by the row's creation time in µs.

    The same row republished after a crash gets the same id and JetStream drops it. The
    bare id would also collide across databases (a new one starts again at 1, a second
    deployment on the same NATS), and JetStream would drop real events as duplicates.
    """
    micros = int(event.created_at.timestamp() * 1_000_000)
    return f"{event.id}-{micros}"


class BusUnavailable(RuntimeError):
    """JetStream did not take the event; the outbox keeps it for the next attempt."""


@dataclass(frozen=True, slots=True)
class StreamLimits:
    events_max_age_s: float = 7 * 86_400
    # Long enough to cover a relay retrying after a crash: a republish inside it is dropped.
    duplicate_window_s: float = 3_600


def stream_configs(limits: StreamLimits) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=EVENTS_STREAM,
            subjects=[SUBJECT_PREFIX + ">"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=limits.events_max_age_s,
            duplicate_window=limits.duplicate_window_s,
        ),
        StreamConfig(
            name=JOBS_STREAM,
            subjects=[JOBS_PREFIX + ">"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=limits.duplicate_window_s,
        ),
        StreamConfig(
            name=DEAD_STREAM,
            subjects=[DEAD_PREFIX + ">"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=limits.events_max_age_s,
        ),
    ]


async def ensure_streams(js: JetStreamContext, limits: StreamLimits) -> None:
    """Create the streams, or bring an existing one's configuration up to date."""
    for config in stream_configs(limits):
        try:
            await js.add_stream(config)
        except BadRequestError:  # it exists with another configuration
            await js.update_stream(config)


def _where(url: str) -> str:
    """``host:port`` of a NATS URL: never the credentials it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 4222}"


class LoopThread:
    """A nats-py connection driven from synchronous code: an event loop in its own thread.

    The connection is made on first use, with the streams ensured; a failure to connect or
    to get an answer in time is a ``BusUnavailable``.
    """

    def __init__(self, url: str, *, limits: StreamLimits | None = None, timeout_s: float = 5.0):
        self.url = url
        self.timeout_s = timeout_s
        self._limits = limits or StreamLimits()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="jetstream", daemon=True
        )
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._reported: set[str] = set()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def close(self) -> None:
        with contextlib.suppress(BusUnavailable):
            self.run(self._close())
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()

    def run(self, coro: Coroutine[Any, Any, T], *, timeout: float | None = -1) -> T:
        """Run ``coro`` on the loop and wait (``timeout=None``: as long as it takes)."""
        if self._loop.is_closed() or not self._loop.is_running():
            coro.close()
            raise BusUnavailable("the JetStream connection is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=self.timeout_s * 2 if timeout == -1 else timeout)
        except BusUnavailable:
            raise
        except Exception as exc:
            future.cancel()
            raise BusUnavailable(
                f"JetStream at {_where(self.url)}: {type(exc).__name__}: {exc}"
            ) from exc

    async def client(self) -> Client:
        """The core NATS connection under ``jetstream()`` (for plain subscriptions)."""
        await self.jetstream()
        assert self._nc is not None
        return self._nc

    async def jetstream(self) -> JetStreamContext:
        if self._nc is not None and self._js is not None and not self._nc.is_closed:
            return self._js
        connect_timeout = min(2.0, self.timeout_s)
        try:
            # Reconnect forever once connected; but with max_reconnect_attempts=-1 nats-py
            # also retries a first connection forever, so that one is bounded here.
            nc = await asyncio.wait_for(
                nats.connect(
                    self.url,
                    connect_timeout=connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    error_cb=self._on_error,
                    reconnected_cb=self._on_reconnected,
                ),
                timeout=connect_timeout + 1,
            )
        except Exception as exc:
            raise BusUnavailable(f"cannot connect to NATS at {_where(self.url)}: {exc}") from exc
        js = nc.jetstream(timeout=self.timeout_s)
        await ensure_streams(js, self._limits)
        self._nc, self._js = nc, js
        log.info("connected to NATS JetStream at %s", _where(self.url))
        return js

    async def _on_error(self, error: Exception) -> None:
        # nats-py's default logs a traceback for every failed reconnection (two a second
        # in an outage): one line per kind of error until connected again.
        kind = type(error).__name__
        if kind not in self._reported:
            self._reported.add(kind)
            log.warning("NATS at %s: %s; reconnecting", _where(self.url), kind)

    async def _on_reconnected(self) -> None:
        self._reported.clear()
        log.info("reconnected to NATS at %s", _where(self.url))

    async def _close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            # Not drain(): every publish was acknowledged already, and a drain waits on a
            # worker's pending fetch.
            await self._nc.close()
        self._nc = self._js = None
        # Whatever nats-py still runs (reconnect loops, a worker's fetch) ends here, not
        # as "Task was destroyed but it is pending" when the loop closes.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class JetStreamPublisher(LoopThread):
    """A ``Publisher`` for ``OutboxRelay`` that waits for JetStream's acknowledgement."""

    def publish_many(self, events: Sequence[Event]) -> tuple[int, Exception | None]:
        """Publish in order, each acknowledged before the next: one hop to the loop thread
        for the whole batch. Returns how many were stored and what stopped the rest."""
        messages = [(subject_of(e.topic), encode(e), message_id(e)) for e in events]
        try:
            return self.run(self._publish_all(messages), timeout=self.timeout_s * (2 + len(events)))
        except BusUnavailable as exc:
            return 0, exc

    async def _publish_all(
        self, messages: Sequence[tuple[str, bytes, str]]
    ) -> tuple[int, Exception | None]:
        try:
            js = await self.jetstream()
        except BusUnavailable as exc:
            return 0, exc
        for sent, (subject, data, msg_id) in enumerate(messages):
            try:
                await self._publish(js, subject, data, msg_id)
            except Exception as exc:
                return sent, BusUnavailable(
                    f"JetStream at {_where(self.url)}: {type(exc).__name__}: {exc}"
                )
        return len(messages), None

    async def _publish(self, js: JetStreamContext, subject: str, data: bytes, msg_id: str) -> None:
        ack = await js.publish(
            subject, data, timeout=self.timeout_s, headers={"Nats-Msg-Id": msg_id}
        )
        if ack.duplicate:
            log.info("event %s was already in the stream (republished after a crash)", msg_id)
