"""A user's rights over their data: a full export, and erasure in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select, update

from nudge_infra.clock import Clock
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import (
    agent_credit,
    agent_outputs,
    agent_state,
    consent_history,
    consents,
    contexts,
    inferred_params,
    item_marks,
    outbox,
    preferences,
    signals,
    suppressions,
    tip_feedback,
    tip_leases,
    tips,
    users,
)
from nudge_profile.store import require_user

# Every table that holds rows of one user, children before parents. A test checks that
# no table with a user_id column is missing here.
USER_TABLES: tuple[Table, ...] = (
    tip_leases,
    item_marks,
    agent_credit,
    inferred_params,
    agent_state,
    suppressions,
    tip_feedback,
    tips,
    agent_outputs,
    signals,
    consent_history,
    consents,
    contexts,
    preferences,
    users,
)


def export_user(engine: Engine, user_id: str, now: datetime) -> dict[str, Any]:
    """Everything stored about the user, one list of rows per table, plus their events."""
    with engine.connect() as conn:
        require_user(conn, user_id)
        document: dict[str, Any] = {"user_id": user_id, "exported_at": now}
        for table in reversed(USER_TABLES):
            order = list(table.primary_key.columns)
            rows = conn.execute(select(table).where(table.c.user_id == user_id).order_by(*order))
            document[table.name] = [dict(r._mapping) for r in rows]
        document["events"] = [
            dict(r._mapping) for r in conn.execute(_user_events(user_id).order_by(outbox.c.id))
        ]
    return document


def delete_user(engine: Engine, clock: Clock, user_id: str) -> dict[str, int]:
    """Erase the user from every table at once and emit UserDeleted; return rows per table.

    The UserDeleted event itself names the user (consumers need to know whom to forget);
    it is the one row that remains, until the relay has published it and retention
    prunes published events.
    """
    now = clock()
    with engine.begin() as conn:
        require_user(conn, user_id)
        counts = {
            table.name: conn.execute(delete(table).where(table.c.user_id == user_id)).rowcount
            for table in USER_TABLES
        }
        counts["events"] = _forget_events(conn, user_id)
        events.append(conn, events.Topic.USER_DELETED, user_id, {"user_id": user_id}, now)
    return counts


def _user_events(user_id: str) -> Any:
    return select(outbox.c.id, outbox.c.topic, outbox.c.payload, outbox.c.created_at).where(
        outbox.c.key == user_id
    )


def _forget_events(conn: Connection, user_id: str) -> int:
    """Delete the user's own events; strike the user from events about many users."""
    removed = conn.execute(delete(outbox).where(outbox.c.key == user_id)).rowcount
    shared = conn.execute(
        select(outbox.c.id, outbox.c.payload).where(
            outbox.c.topic == events.Topic.AGENT_OUTPUTS_WRITTEN
        )
    )
    for event_id, payload in shared.all():
        listed = payload.get("users", [])
        if user_id in listed:
            kept = [u for u in listed if u != user_id]
            conn.execute(
                update(outbox)
                .where(outbox.c.id == event_id)
                .values(payload={**payload, "users": kept})
            )
            removed += 1
    return removed
