"""Signals: what gateways tell Nudge about a user, and what agents read."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Connection, Engine, delete, select

from nudge_infra.clock import Clock
from nudge_infra.errors import Invalid
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import signals
from nudge_infra.storage.upsert import upsert
from nudge_profile.items import reopen_changed
from nudge_profile.model import Signal
from nudge_profile.signal_kinds import KIND_PATTERN, SignalKinds
from nudge_profile.store import require_user

SIGNALS_PER_USER_READ = 1000


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset, e.g. 2026-01-31T18:00:00Z")
    return value


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Annotated[str, StringConstraints(pattern=KIND_PATTERN)] = Field(examples=["task"])
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        examples=["todo-123"]
    )
    payload: dict[str, Any] = Field(examples=[{"title": "Send the Q3 report", "due": "2026-11-21"}])
    occurred_at: Annotated[datetime, AfterValidator(_aware)]


class SignalBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signals: list[SignalIn] = Field(min_length=1)

    def reserved(self, kinds: SignalKinds) -> list[dict[str, Any]]:
        """Items a caller may not send: kinds Nudge records itself (``reserved: true``)."""
        return [
            {"index": i, "field": "kind", "reason": f"kind {s.kind!r} is reserved for Nudge"}
            for i, s in enumerate(self.signals)
            if s.kind in kinds.reserved
        ]


class SignalStore:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        kinds: SignalKinds,
        *,
        max_batch: int,
        max_payload_bytes: int,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.kinds = kinds
        self._max_batch = max_batch
        self._max_payload_bytes = max_payload_bytes

    def ingest(
        self, user_id: str, batch: Sequence[SignalIn], *, check_payloads: bool = True
    ) -> int:
        """Upsert a whole batch, or nothing of it when any item is bad: an unknown kind, a
        payload its kind's schema refuses, or one too large. ``check_payloads=False``
        stores payloads as they are (the evaluation's scenarios hold malformed ones on
        purpose, to see that agents skip them).

        Items repeating a (kind, external_id) within the batch: the last one wins.
        """
        self._check(batch, check_payloads)
        now = self._clock()
        latest = {(s.kind, s.external_id): s for s in batch}
        rows = [
            {
                "user_id": user_id,
                "kind": s.kind,
                "external_id": s.external_id,
                "payload": s.payload,
                "occurred_at": s.occurred_at,
                "received_at": now,
            }
            for s in latest.values()
        ]
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            upsert(conn, signals, rows, keys=("user_id", "kind", "external_id"))
            # A finished or hidden item comes back when its signal changes.
            reopen_changed(
                conn, user_id, [(f"{r['kind']}:{r['external_id']}", r["payload"]) for r in rows]
            )
            events.append(
                conn,
                events.Topic.SIGNALS_INGESTED,
                user_id,
                {"user_id": user_id, "kinds": sorted({s.kind for s in batch}), "count": len(rows)},
                now,
            )
        return len(rows)

    def delete(self, user_id: str, kind: str, external_id: str) -> bool:
        """Forget one signal (e.g. a deleted task); return False when there was none."""
        with self._engine.begin() as conn:
            require_user(conn, user_id)
            removed = conn.execute(
                delete(signals).where(
                    signals.c.user_id == user_id,
                    signals.c.kind == kind,
                    signals.c.external_id == external_id,
                )
            ).rowcount
        return bool(removed)

    def _check(self, batch: Sequence[SignalIn], check_payloads: bool) -> None:
        if len(batch) > self._max_batch:
            raise Invalid(f"a batch holds at most {self._max_batch} signals, got {len(batch)}")
        problems = [
            {
                "index": i,
                "field": "payload",
                "reason": f"payload is larger than {self._max_payload_bytes} bytes",
            }
            for i, s in enumerate(batch)
            if len(json.dumps(s.payload)) > self._max_payload_bytes
        ]
        if not problems and check_payloads:
            problems = self.kinds.problems(batch)
        if problems:
            raise Invalid(
                f"{len(problems)} signal(s) rejected; nothing was stored", details=problems
            )


def read_signals(
    conn: Connection, user_ids: Iterable[str], kinds: Iterable[str]
) -> dict[str, list[Signal]]:
    """Read the signals of many users in one query, newest first per user."""
    wanted_users, wanted_kinds = list(user_ids), list(kinds)
    found: dict[str, list[Signal]] = defaultdict(list)
    if not wanted_users or not wanted_kinds:
        return found
    rows = conn.execute(
        select(
            signals.c.user_id,
            signals.c.kind,
            signals.c.external_id,
            signals.c.payload,
            signals.c.occurred_at,
        ).where(signals.c.user_id.in_(wanted_users), signals.c.kind.in_(wanted_kinds))
    )
    for row in rows:
        found[row.user_id].append(Signal(row.kind, row.external_id, row.payload, row.occurred_at))
    for user_id, items in found.items():
        items.sort(key=lambda s: s.occurred_at, reverse=True)
        del items[SIGNALS_PER_USER_READ:]
        found[user_id] = items
    return found
