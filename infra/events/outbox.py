"""The transactional outbox: events are written with the state change that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from nudge_infra.storage.tables import outbox


class Topic:
    SIGNALS_INGESTED = "signals.ingested"
    AGENT_OUTPUTS_WRITTEN = "agent.outputs_written"
    TIP_SERVED = "tip.served"
    TIP_FEEDBACK = "tip.feedback"
    CONSENT_CHANGED = "consent.changed"
    USER_DELETED = "user.deleted"


def append(conn: Connection, topic: str, key: str, payload: dict[str, Any], now: datetime) -> None:
    """Record an event in the caller's transaction; the relay publishes it after commit."""
    conn.execute(insert(outbox).values(topic=topic, key=key, payload=payload, created_at=now))
