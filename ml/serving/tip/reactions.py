"""Writing a reaction to a tip: the feedback row, its suppressions, its signal and its event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, and_, insert, select, update

from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import signals, suppressions, tip_feedback
from nudge_infra.storage.upsert import upsert

Reaction = Literal["done", "snooze", "dismiss"]


def write_reaction(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Store a reaction once, in the caller's transaction; return it and whether it is new.

    Snooze hides the cited agents until ``snooze_until`` (a repeated snooze with another
    time moves it); dismiss and done hide the cited snippets until their agents write
    something different.
    """
    tip_id = tip.tip_id
    existing = conn.execute(
        select(tip_feedback.c.id, tip_feedback.c.snooze_until, tip_feedback.c.created_at).where(
            tip_feedback.c.tip_id == tip_id, tip_feedback.c.reaction == reaction
        )
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
    _emit_feedback(conn, tip, reaction, snooze_until, now)
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
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
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


def _emit_feedback(
    conn: Connection,
    tip: Row[*tuple[Any, ...]],
    reaction: Reaction,
    snooze_until: datetime | None,
    now: datetime,
) -> None:
    events.append(
        conn,
        events.Topic.TIP_FEEDBACK,
        tip.user_id,
        {
            "tip_id": tip.tip_id,
            "user_id": tip.user_id,
            "reaction": reaction,
            "snooze_until": snooze_until.isoformat() if snooze_until else None,
        },
        now,
    )


def _feedback_out(
    tip_id: str, reaction: str, snooze_until: datetime | None, at: datetime
) -> dict[str, Any]:
    return {"tip_id": tip_id, "reaction": reaction, "snooze_until": snooze_until, "recorded_at": at}
