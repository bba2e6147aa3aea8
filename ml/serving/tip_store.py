"""Reads and writes of the tip path: the context a tip needs, tips, feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, bindparam, exists, insert, or_, select, update

from ml.registry.eligibility import OutputRef, Suppression
from nudge.errors import NotFound
from nudge.events import outbox as events
from nudge.storage.tables import agent_outputs, signals, suppressions, tip_feedback, tips
from nudge.storage.upsert import upsert
from nudge_profile.model import Profile
from nudge_profile.store import load_profile, require_user

Reaction = Literal["done", "snooze", "dismiss"]


@dataclass(frozen=True, slots=True)
class StoredOutput:
    agent_id: str
    agent_version: int
    snippet: str
    suggestion: str | None
    snippet_hash: str
    computed_at: datetime
    expires_at: datetime

    def ref(self) -> OutputRef:
        return OutputRef(
            self.agent_id, self.agent_version, self.snippet_hash, self.computed_at, self.expires_at
        )


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


@dataclass(frozen=True, slots=True)
class StoredTip(TipHead):
    provenance: dict[str, Any]


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
)
_TIP_COLUMNS = (*_HEAD_COLUMNS, tips.c.provenance)

# The hot path's statements are built once; only their parameters change per request.
_OUTPUTS = select(
    agent_outputs.c.agent_id,
    agent_outputs.c.agent_version,
    agent_outputs.c.snippet,
    agent_outputs.c.suggestion,
    agent_outputs.c.snippet_hash,
    agent_outputs.c.computed_at,
    agent_outputs.c.expires_at,
).where(
    agent_outputs.c.user_id == bindparam("user_id"),
    agent_outputs.c.agent_id.in_(bindparam("agent_ids", expanding=True)),
)
_SUPPRESSIONS = select(
    suppressions.c.agent_id,
    suppressions.c.kind,
    suppressions.c.snippet_hash,
    suppressions.c.until,
).where(
    suppressions.c.user_id == bindparam("user_id"),
    or_(suppressions.c.until.is_(None), suppressions.c.until > bindparam("now")),
)
_LAST_TIP = (
    select(
        *_HEAD_COLUMNS,
        exists()
        .where(
            tip_feedback.c.user_id == tips.c.user_id,
            tip_feedback.c.created_at >= tips.c.created_at,
        )
        .label("feedback_since"),
    )
    .where(tips.c.user_id == bindparam("user_id"))
    .order_by(tips.c.created_at.desc())
    .limit(1)
)


def read_profile(conn: Connection, user_id: str) -> Profile:
    profile = load_profile(conn, user_id)
    if profile is None:
        raise NotFound("user", user_id)
    return profile


def read_outputs(
    conn: Connection, user_id: str, agent_ids: Sequence[str]
) -> dict[str, StoredOutput]:
    """The stored outputs of the candidate agents, in one primary-key query."""
    if not agent_ids:
        return {}
    rows = conn.execute(_OUTPUTS, {"user_id": user_id, "agent_ids": list(agent_ids)})
    return {r.agent_id: StoredOutput(*r) for r in rows}


def read_suppressions(conn: Connection, user_id: str, now: datetime) -> list[Suppression]:
    rows = conn.execute(_SUPPRESSIONS, {"user_id": user_id, "now": now})
    return [Suppression(r.agent_id, r.kind, r.snippet_hash, r.until) for r in rows]


def read_last_tip(conn: Connection, user_id: str) -> tuple[TipHead | None, bool]:
    """The user's latest tip, and whether any feedback arrived since it was made."""
    row = conn.execute(_LAST_TIP, {"user_id": user_id}).first()
    if row is None:
        return None, False
    fields = dict(row._mapping)
    since = bool(fields.pop("feedback_since"))
    return TipHead(**fields), since


class TipStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, tip: StoredTip, row: dict[str, Any]) -> None:
        """Store a new tip with its provenance and emit TipServed, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(insert(tips).values(**row))
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

    def mark_served_again(self, tip_id: str, now: datetime) -> int:
        with self.engine.begin() as conn:
            conn.execute(
                update(tips)
                .where(tips.c.tip_id == tip_id)
                .values(serve_count=tips.c.serve_count + 1, last_served_at=now)
            )
            return int(
                conn.execute(select(tips.c.serve_count).where(tips.c.tip_id == tip_id)).scalar_one()
            )

    def get(self, tip_id: str) -> StoredTip:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_TIP_COLUMNS).where(tips.c.tip_id == tip_id)).first()
        if row is None:
            raise NotFound("tip", tip_id)
        return StoredTip(**row._mapping)

    def recent(self, user_id: str, limit: int) -> list[TipHead]:
        """The user's latest tips, newest first."""
        with self.engine.connect() as conn:
            require_user(conn, user_id)
            rows = conn.execute(
                select(*_HEAD_COLUMNS)
                .where(tips.c.user_id == user_id)
                .order_by(tips.c.created_at.desc())
                .limit(limit)
            )
            return [TipHead(**r._mapping) for r in rows]

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
        self, tip_id: str, reaction: Reaction, snooze_until: datetime | None, now: datetime
    ) -> tuple[dict[str, Any], bool]:
        """Store a reaction once; return it and whether it was new (or changed).

        Snooze hides the cited agents until ``snooze_until``; dismiss and done hide the
        cited snippets until their agents write something different.
        """
        with self.engine.begin() as conn:
            tip = conn.execute(select(*_TIP_COLUMNS).where(tips.c.tip_id == tip_id)).first()
            if tip is None:
                raise NotFound("tip", tip_id)
            existing = conn.execute(
                select(
                    tip_feedback.c.id, tip_feedback.c.snooze_until, tip_feedback.c.created_at
                ).where(tip_feedback.c.tip_id == tip_id, tip_feedback.c.reaction == reaction)
            ).first()
            if existing is not None and existing.snooze_until == snooze_until:
                return _feedback_out(tip_id, reaction, snooze_until, existing.created_at), False
            if existing is not None:
                conn.execute(
                    update(tip_feedback)
                    .where(tip_feedback.c.id == existing.id)
                    .values(snooze_until=snooze_until, created_at=now)
                )
                conn.execute(
                    update(suppressions)
                    .where(and_(suppressions.c.tip_id == tip_id, suppressions.c.kind == "snoozed"))
                    .values(until=snooze_until)
                )
            else:
                conn.execute(
                    insert(tip_feedback).values(
                        tip_id=tip_id,
                        user_id=tip.user_id,
                        reaction=reaction,
                        snooze_until=snooze_until,
                        created_at=now,
                    )
                )
                _suppress(conn, tip.user_id, tip_id, tip.provenance, reaction, snooze_until, now)
            _remember_as_signal(conn, tip, reaction, snooze_until, now)
            events.append(
                conn,
                events.Topic.TIP_FEEDBACK,
                tip.user_id,
                {
                    "tip_id": tip_id,
                    "user_id": tip.user_id,
                    "reaction": reaction,
                    "snooze_until": snooze_until.isoformat() if snooze_until else None,
                },
                now,
            )
        return _feedback_out(tip_id, reaction, snooze_until, now), True


def _suppress(
    conn: Connection,
    user_id: str,
    tip_id: str,
    provenance: dict[str, Any],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
) -> None:
    kind = {"snooze": "snoozed", "dismiss": "dismissed", "done": "done"}[reaction]
    rows = [
        {
            "user_id": user_id,
            "agent_id": cited["agent_id"],
            "kind": kind,
            "snippet_hash": None if reaction == "snooze" else cited["snippet_hash"],
            "until": snooze_until if reaction == "snooze" else None,
            "tip_id": tip_id,
            "created_at": now,
        }
        for cited in provenance.get("cited", [])
    ]
    if rows:
        conn.execute(insert(suppressions), rows)


def _remember_as_signal(
    conn: Connection, tip: Any, reaction: Reaction, snooze_until: datetime | None, now: datetime
) -> None:
    """Feedback becomes a signal, so the feedback-history agent reads it like any other."""
    upsert(
        conn,
        signals,
        [
            {
                "user_id": tip.user_id,
                "kind": "tip_feedback",
                "external_id": f"{tip.tip_id}:{reaction}",
                "payload": {
                    "reaction": reaction,
                    "tip_text": tip.text,
                    "agents": list(tip.agents),
                    "snooze_until": snooze_until.isoformat() if snooze_until else None,
                },
                "occurred_at": now,
                "received_at": now,
            }
        ],
        keys=("user_id", "kind", "external_id"),
    )


def _feedback_out(
    tip_id: str, reaction: str, snooze_until: datetime | None, at: datetime
) -> dict[str, Any]:
    return {"tip_id": tip_id, "reaction": reaction, "snooze_until": snooze_until, "recorded_at": at}
