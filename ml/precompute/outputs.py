"""A sweep's outputs: the row of one snippet, and one batch written in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete

from ml.agents.base import Snippet
from ml.registry.registry import RegisteredAgent
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import agent_outputs
from nudge_infra.storage.upsert import upsert


def snippet_hash(snippet: Snippet) -> str:
    """Identify a snippet's content: a dismissal holds until this changes."""
    text = snippet.text + "\x1f" + (snippet.suggestion or "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def write_outputs(
    engine: Engine,
    rows: Sequence[dict[str, Any]],
    *,
    agent_id: str,
    agent_version: int,
    silent: Sequence[str],
    now: datetime,
) -> None:
    """Store one batch's outputs, drop the silent users' old ones, record the event: one
    transaction.

    On Postgres the commit does not wait for its WAL flush (``synchronous_commit = off``):
    outputs are derived from signals and rewritten by the next sweep, so a database crash
    can at worst lose the last few hundred milliseconds of them, together with their event,
    never half of a batch. The flush per batch was a tenth of the sweep's write time.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        upsert(conn, agent_outputs, rows, keys=("user_id", "agent_id"))
        if silent:
            # Nothing to say now (or no consent): an older snippet must not linger.
            conn.execute(
                delete(agent_outputs).where(
                    agent_outputs.c.agent_id == agent_id, agent_outputs.c.user_id.in_(silent)
                )
            )
        if rows:
            events.append(
                conn,
                events.Topic.AGENT_OUTPUTS_WRITTEN,
                agent_id,
                {
                    "agent_id": agent_id,
                    "agent_version": agent_version,
                    "users": [r["user_id"] for r in rows],
                },
                now,
            )


def output_row(
    agent: RegisteredAgent, user_id: str, snippet: Snippet, now: datetime, expires: datetime
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "agent_id": agent.id,
        "agent_version": agent.version,
        "snippet": snippet.text,
        "suggestion": snippet.suggestion,
        "because": snippet.because,
        "facts": dict(snippet.facts),
        "snippet_hash": snippet_hash(snippet),
        "computed_at": now,
        "expires_at": expires,
    }
