"""A user's marks on items: done closes an item, dismiss and snooze hide it for a while.

An item is named by a stable ref (``task:task-1``). A mark holds until it lapses
(dismissed, snoozed) or, for every kind, until a signal with the same ref arrives whose
payload differs from the one the user reacted to: the task came back with a new due date
or ``done: false``. The same payload sent again (a connector's periodic sync) reopens
nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, or_, select, tuple_

from nudge_infra.storage.tables import item_marks, signals
from nudge_infra.storage.upsert import upsert

MarkKind = Literal["done", "dismissed", "snoozed"]


@dataclass(frozen=True, slots=True)
class ItemMark:
    ref: str
    kind: MarkKind
    until: datetime | None
    """When a dismissal or snooze lapses; None for done (it never lapses by itself)."""
    agent_id: str
    label: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        return self.until is None or self.until > now


@dataclass(frozen=True, slots=True)
class Marks:
    """A user's active marks, as the sets an agent run is given."""

    closed: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()
    """``closed`` plus the dismissed and snoozed refs."""


def payload_digest(payload: Any) -> str:
    """Identify a signal's content: a mark holds until the payload changes."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:32]


def split_ref(ref: str) -> tuple[str, str]:
    kind, _, key = ref.partition(":")
    return kind, key


def read_marks(
    conn: Connection, user_ids: Sequence[str], now: datetime
) -> dict[str, list[ItemMark]]:
    """The active marks of these users, in one query."""
    found: dict[str, list[ItemMark]] = defaultdict(list)
    if not user_ids:
        return found
    rows = conn.execute(
        select(item_marks).where(
            item_marks.c.user_id.in_(list(user_ids)),
            or_(item_marks.c.until.is_(None), item_marks.c.until > now),
        )
    )
    for row in rows:
        found[row.user_id].append(
            ItemMark(row.ref, row.kind, row.until, row.agent_id, row.label, row.created_at)
        )
    return found


def as_marks(marks: Iterable[ItemMark], now: datetime) -> Marks:
    active = [m for m in marks if m.active(now)]
    closed = frozenset(m.ref for m in active if m.kind == "done")
    return Marks(closed, closed | {m.ref for m in active})


@dataclass(frozen=True, slots=True)
class NewMark:
    ref: str
    agent_id: str
    label: str


def mark_items(
    conn: Connection,
    user_id: str,
    items: Sequence[NewMark],
    kind: MarkKind,
    *,
    until: datetime | None,
    tip_id: str | None,
    now: datetime,
) -> None:
    """Mark items for a user (the latest reaction to an item wins), remembering the
    payload of each item's signal so that only a changed signal reopens it."""
    if not items:
        return
    digests = _current_digests(conn, user_id, [i.ref for i in items])
    rows = [
        {
            "user_id": user_id,
            "ref": item.ref,
            "kind": kind,
            "until": until,
            "agent_id": item.agent_id,
            "label": item.label[:80],
            "signal_digest": digests.get(item.ref),
            "tip_id": tip_id,
            "created_at": now,
        }
        for item in {i.ref: i for i in items}.values()
    ]
    upsert(conn, item_marks, rows, keys=("user_id", "ref"))


def reopen_changed(conn: Connection, user_id: str, incoming: Sequence[tuple[str, Any]]) -> int:
    """Drop the marks whose item arrives again with another payload; ``incoming`` holds
    (ref, payload) pairs. Returns how many items were reopened."""
    if not incoming:
        return 0
    latest = dict(incoming)
    rows = conn.execute(
        select(item_marks.c.ref, item_marks.c.signal_digest).where(
            item_marks.c.user_id == user_id, item_marks.c.ref.in_(list(latest))
        )
    ).all()
    changed = [ref for ref, digest in rows if digest != payload_digest(latest[ref])]
    if changed:
        conn.execute(
            delete(item_marks).where(item_marks.c.user_id == user_id, item_marks.c.ref.in_(changed))
        )
    return len(changed)


def _current_digests(conn: Connection, user_id: str, refs: Sequence[str]) -> dict[str, str]:
    keys = [split_ref(ref) for ref in refs]
    rows = conn.execute(
        select(signals.c.kind, signals.c.external_id, signals.c.payload).where(
            signals.c.user_id == user_id,
            tuple_(signals.c.kind, signals.c.external_id).in_(keys),
        )
    )
    return {f"{kind}:{external_id}": payload_digest(payload) for kind, external_id, payload in rows}


def marks_of(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    """Every mark of a user, lapsed ones included (for export)."""
    rows = conn.execute(
        select(item_marks).where(item_marks.c.user_id == user_id).order_by(item_marks.c.created_at)
    )
    return [{k: v for k, v in row._mapping.items() if k != "user_id"} for row in rows]
