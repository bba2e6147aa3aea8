"""Reads and writes of the tip path: the context a tip needs, tips, feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from ml.registry.eligibility import OutputRef, Suppression
from ml.serving.tip.reactions import Reaction, write_reaction
from nudge_infra.errors import NotFound
from nudge_infra.events import outbox as events
from nudge_infra.storage.driver import Reader, Statement
from nudge_infra.storage.tables import tip_feedback, tips
from nudge_profile.store import require_user


@dataclass(frozen=True, slots=True)
class StoredOutput:
    agent_id: str
    agent_version: int
    snippet: str
    suggestion: str | None
    because: str | None
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

# The tip path's reads, on the driver's cursor (see nudge_infra.storage.driver). All outputs
# of the user are read (at most one per agent) and filtered here: no IN list to expand.
_OUTPUTS = Statement(
    """
    SELECT agent_id, agent_version, snippet, suggestion, because, snippet_hash, computed_at,
           expires_at
    FROM agent_outputs WHERE user_id = ?
    """
)
_SUPPRESSIONS = Statement(
    """
    SELECT agent_id, kind, snippet_hash, until FROM suppressions
    WHERE user_id = ? AND (until IS NULL OR until > ?)
    """
)
_LAST_TIP = Statement(
    """
    SELECT t.tip_id, t.user_id, t.text, t.rationale, t.agents, t.fallback, t.fallback_reason,
           t.fingerprint, t.created_at, t.serve_count, t.last_served_at,
           EXISTS (SELECT 1 FROM tip_feedback f
                   WHERE f.user_id = t.user_id AND f.created_at >= t.created_at)
    FROM tips t WHERE t.user_id = ? ORDER BY t.created_at DESC LIMIT 1
    """
)


def read_outputs(reader: Reader, user_id: str, agent_ids: Sequence[str]) -> dict[str, StoredOutput]:
    """The stored outputs of the candidate agents."""
    if not agent_ids:
        return {}
    wanted = set(agent_ids)
    c = reader.codec
    return {
        agent_id: StoredOutput(
            agent_id,
            version,
            snippet,
            suggestion,
            because,
            digest,
            c.time_out(computed),
            c.time_out(expires),
        )
        for (
            agent_id,
            version,
            snippet,
            suggestion,
            because,
            digest,
            computed,
            expires,
        ) in reader.all(_OUTPUTS, (user_id,))
        if agent_id in wanted
    }


def read_suppressions(reader: Reader, user_id: str, now: datetime) -> list[Suppression]:
    c = reader.codec
    rows = reader.all(_SUPPRESSIONS, (user_id, c.time_in(now)))
    return [
        Suppression(agent_id, kind, digest, c.time_or_none(until))
        for agent_id, kind, digest, until in rows
    ]


def read_last_tip(reader: Reader, user_id: str) -> tuple[TipHead | None, bool]:
    """The user's latest tip, and whether any feedback arrived since it was made."""
    row = reader.one(_LAST_TIP, (user_id,))
    if row is None:
        return None, False
    c = reader.codec
    tip_id, uid, text, rationale, agents, fallback, reason, fingerprint = row[:8]
    created_at, serve_count, last_served_at, feedback_since = row[8:]
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
    )
    return head, c.bool_out(feedback_since)


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

    def owner_of(self, tip_id: str) -> str:
        with self.engine.connect() as conn:
            owner = conn.execute(select(tips.c.user_id).where(tips.c.tip_id == tip_id)).scalar()
        if owner is None:
            raise NotFound("tip", tip_id)
        return str(owner)

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
        """Store a reaction once; return it and whether it was new (or changed)."""
        with self.engine.begin() as conn:
            tip = conn.execute(select(*_TIP_COLUMNS).where(tips.c.tip_id == tip_id)).first()
            if tip is None:
                raise NotFound("tip", tip_id)
            return write_reaction(conn, tip, reaction, snooze_until, now)
