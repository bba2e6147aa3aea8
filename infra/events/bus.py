"""Publish outbox rows to subscribers, in order, after the transaction that wrote them."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select, update

from nudge_infra.clock import Clock
from nudge_infra.storage.tables import outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    created_at: datetime


Handler = Callable[[Event], object]


class Publisher(Protocol):
    def publish_many(self, events: Sequence[Event]) -> tuple[int, Exception | None]:
        """Publish in order; return how many went out and the error that stopped the rest."""
        ...


class InProcessBus:
    """Deliver events to handlers in this process; a failing handler is logged, not fatal."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler`` for every event of ``topic`` (``*`` for all topics)."""
        self._handlers[topic].append(handler)

    def publish_many(self, events: Sequence[Event]) -> tuple[int, Exception | None]:
        for event in events:
            self.publish(event)
        return len(events), None

    def publish(self, event: Event) -> None:
        for handler in [*self._handlers.get(event.topic, ()), *self._handlers.get("*", ())]:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed", extra={"topic": event.topic})


class OutboxRelay:
    """Move unpublished outbox rows to a publisher, oldest first."""

    def __init__(
        self, engine: Engine, publisher: Publisher, clock: Clock, *, batch_size: int = 500
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._clock = clock
        self._batch_size = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def drain(self) -> int:
        """Publish everything pending; return how many events went out."""
        total = 0
        with self._lock:
            while True:
                sent = self._publish_batch()
                total += sent
                if sent < self._batch_size:
                    return total

    def _publish_batch(self) -> int:
        query = (
            select(outbox)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self._batch_size)
        )
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            events = [Event(r.id, r.topic, r.key, dict(r.payload), r.created_at) for r in rows]
            # The rows after a failure stay pending, in order, for the next attempt; what
            # the publisher took is marked even then.
            sent, failure = self._publisher.publish_many(events) if events else (0, None)
            if sent:
                done = [e.id for e in events[:sent]]
                conn.execute(
                    update(outbox).where(outbox.c.id.in_(done)).values(published_at=self._clock())
                )
        if failure is not None:
            raise failure
        return sent

    def kick(self) -> None:
        """Ask the background loop to drain now rather than at its next tick."""
        self._wake.set()

    def start(self, interval_s: float = 1.0) -> None:
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s,), name="outbox-relay", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self, interval_s: float) -> None:
        failing = False
        while not self._stop.is_set():
            self._wake.wait(interval_s)
            self._wake.clear()
            try:
                self.drain()
            except Exception as exc:
                if not failing:  # once per outage, not once a second
                    log.warning("outbox relay cannot publish (%s); will retry", exc)
                failing = True
                continue
            if failing:
                log.info("outbox relay publishing again")
            failing = False
