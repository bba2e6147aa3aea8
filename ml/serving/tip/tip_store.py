"""Tips and their feedback: the last tip (for the cache), saving, listing, reactions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from ml.registry.registry import Registry
from ml.serving.tip.reactions import Reaction, settle_ignored, write_reaction
from ml.serving.tip.served_marks import ServedMarks
from nudge_infra.errors import NotFound
from nudge_infra.events import outbox as events
from nudge_infra.storage.driver import Reader, Statement
from nudge_infra.storage.tables import tip_feedback, tips
from nudge_profile.learned import add_credit
from nudge_profile.store import require_user


@dataclass(frozen=True, slots=True)
class TipHead:
    """A tip without its provenance: what the tip path and listings need."""

    tip_id: str
    user_id: str
    text: str
    rationale: str
    agents: list[str]
    fallback: bool
    fallback_reason: str | None
    fingerprint: str
    created_at: datetime
    serve_count: int
    last_served_at: datetime
    items: list[dict[str, str]]
    """What the tip is about: [{agent_id, ref, label}]."""


@dataclass(frozen=True, slots=True)
class StoredTip(TipHead):
    provenance: dict[str, Any]


def _row_fields(row: Any) -> dict[str, Any]:
    fields = dict(row._mapping)
    fields["items"] = fields.get("items") or []  # tips made before items existed
    return fields


_HEAD_COLUMNS = (
    tips.c.tip_id,
    tips.c.user_id,
    tips.c.text,
    tips.c.rationale,
    tips.c.agents,
    tips.c.fallback,
    tips.c.fallback_reason,
    tips.c.fingerprint,
    tips.c.created_at,
    tips.c.serve_count,
    tips.c.last_served_at,
    tips.c["items"],
)
_TIP_COLUMNS = (*_HEAD_COLUMNS, tips.c.provenance)

# The tip path's reads, on the driver's cursor (see nudge_infra.storage.driver). All outputs
# of the user are read (at most one per agent) and filtered here: no IN list to expand.
_LAST_TIP = Statement(
    """
    SELECT t.tip_id, t.user_id, t.text, t.rationale, t.agents, t.fallback, t.fallback_reason,
           t.fingerprint, t.created_at, t.serve_count, t.last_served_at, t.items,
           EXISTS (SELECT 1 FROM tip_feedback f
                   WHERE f.user_id = t.user_id AND f.created_at >= t.created_at)
    FROM tips t WHERE t.user_id = ? ORDER BY t.created_at DESC LIMIT 1
    """
)


def read_last_tip(reader: Reader, user_id: str) -> tuple[TipHead | None, bool]:
    """The user's latest tip, and whether any feedback arrived since it was made."""
    row = reader.one(_LAST_TIP, (user_id,))
    if row is None:
        return None, False
    c = reader.codec
    tip_id, uid, text, rationale, agents, fallback, reason, fingerprint = row[:8]
    created_at, serve_count, last_served_at, items, feedback_since = row[8:]
    head = TipHead(
        tip_id=tip_id,
        user_id=uid,
        text=text,
        rationale=rationale,
        agents=list(c.json_out(agents)),
        fallback=c.bool_out(fallback),
        fallback_reason=reason,
        fingerprint=fingerprint,
        created_at=c.time_out(created_at),
        serve_count=serve_count,
        last_served_at=c.time_out(last_served_at),
        items=list(c.json_out(items) or []),
    )
    return head, c.bool_out(feedback_since)


class TipStore:
    def __init__(self, engine: Engine, *, answer_window: timedelta = timedelta(hours=24)) -> None:
        """``answer_window``: a tip not answered within it counts as ignored."""
        self.engine = engine
        self.answer_window = answer_window
        self._served = ServedMarks(engine)

    def save(self, tip: StoredTip, row: dict[str, Any]) -> None:
        """Store a new tip with its provenance, count it as served, settle the user's
        unanswered old tips as ignored, emit TipServed: one transaction."""
        with self.engine.begin() as conn:
            settle_ignored(conn, tip.user_id, tip.created_at - self.answer_window, tip.created_at)
            conn.execute(insert(tips).values(**row))
            add_credit(conn, tip.user_id, tip.agents, {"served": 1}, tip.created_at)
            events.append(
                conn,
                events.Topic.TIP_SERVED,
                tip.user_id,
                {
                    "tip_id": tip.tip_id,
                    "user_id": tip.user_id,
                    "agents": tip.agents,
                    "fallback": tip.fallback,
                },
                tip.created_at,
            )

    def settle(self, now: datetime) -> int:
        """Count every tip unanswered for longer than the answer window as ignored."""
        with self.engine.begin() as conn:
            return settle_ignored(conn, None, now - self.answer_window, now)

    def mark_served_again(self, tip: TipHead, now: datetime) -> int:
        """Count one more serve of a stored tip (written by ``flush_served``); its serve
        count as far as this process knows."""
        return tip.serve_count + self._served.add(tip.tip_id, now)

    def flush_served(self) -> int:
        """Write the serves counted since the last flush; the number of tips written."""
        return self._served.flush()

    def get(self, tip_id: str) -> StoredTip:
        self._served.flush()
        with self.engine.connect() as conn:
            row = conn.execute(select(*_TIP_COLUMNS).where(tips.c.tip_id == tip_id)).first()
        if row is None:
            raise NotFound("tip", tip_id)
        return StoredTip(**_row_fields(row))

    def owner_of(self, tip_id: str) -> str:
        with self.engine.connect() as conn:
            owner = conn.execute(select(tips.c.user_id).where(tips.c.tip_id == tip_id)).scalar()
        if owner is None:
            raise NotFound("tip", tip_id)
        return str(owner)

    def latest(self, user_id: str) -> TipHead | None:
        self._served.flush()
        with Reader(self.engine) as reader:
            return read_last_tip(reader, user_id)[0]

    def written_for(
        self, user_id: str, fingerprint: str, *, after: datetime | None, pending: str
    ) -> TipHead | None:
        """The user's latest tip for these inputs made after ``after``, leaving out
        fallbacks whose reason is ``pending`` (they only hold the place of a tip)."""
        query = select(*_HEAD_COLUMNS).where(
            tips.c.user_id == user_id,
            tips.c.fingerprint == fingerprint,
            tips.c.fallback_reason.is_(None) | (tips.c.fallback_reason != pending),
        )
        if after is not None:
            query = query.where(tips.c.created_at > after)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(tips.c.created_at.desc()).limit(1)).first()
        return None if row is None else TipHead(**_row_fields(row))

    def served_since(self, user_ids: Sequence[str], since: datetime) -> list[str]:
        """Those of ``user_ids`` who were served a tip at or after ``since``."""
        self._served.flush()
        if not user_ids:
            return []
        query = (
            select(tips.c.user_id)
            .where(tips.c.user_id.in_(list(user_ids)), tips.c.last_served_at >= since)
            .distinct()
        )
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def recent(self, user_id: str, limit: int) -> list[TipHead]:
        """The user's latest tips, newest first."""
        self._served.flush()
        with self.engine.connect() as conn:
            require_user(conn, user_id)
            rows = conn.execute(
                select(*_HEAD_COLUMNS)
                .where(tips.c.user_id == user_id)
                .order_by(tips.c.created_at.desc())
                .limit(limit)
            )
            return [TipHead(**_row_fields(r)) for r in rows]

    def feedback_of(self, tip_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    tip_feedback.c.reaction, tip_feedback.c.snooze_until, tip_feedback.c.created_at
                )
                .where(tip_feedback.c.tip_id == tip_id)
                .order_by(tip_feedback.c.id)
            )
            return [dict(r._mapping) for r in rows]

    def record_feedback(
        self,
        tip_id: str,
        reaction: Reaction,
        snooze_until: datetime | None,
        now: datetime,
        *,
        registry: Registry | None = None,
        items: Sequence[str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store a reaction once; return it and whether it was new (or changed). ``items``
        narrows it to some of the tip's items (Invalid when one is not the tip's)."""
        with self.engine.begin() as conn:
            tip = conn.execute(
                select(*_TIP_COLUMNS, tips.c.outcome).where(tips.c.tip_id == tip_id)
            ).first()
            if tip is None:
                raise NotFound("tip", tip_id)
            return write_reaction(
                conn, tip, reaction, snooze_until, now, registry=registry, items=items
            )
