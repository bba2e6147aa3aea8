"""A sweep's outputs: the row of one snippet, and one batch written in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete

from ml.agents.base import Snippet
from ml.agents.inference import Inferred
from ml.registry.registry import RegisteredAgent
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import agent_outputs
from nudge_infra.storage.upsert import upsert
from nudge_profile.agent_state import write_states
from nudge_profile.inferred import InferredValue, write_inferred


def snippet_hash(snippet: Snippet) -> str:
    """Identify a snippet's content: a dismissal holds until this changes."""
    text = snippet.text + "\x1f" + (snippet.suggestion or "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(slots=True)
class OutputBatch:
    """What one batch of runs writes: outputs, the silent users, states, inferred values."""

    agent_id: str
    agent_version: int
    now: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    inferred: dict[str, list[InferredValue]] = field(default_factory=dict)

    def add_run(
        self, user_id: str, state: dict[str, Any] | None, inferred: Mapping[str, Inferred]
    ) -> None:
        """Keep a successful run's new state and inferred values."""
        if state is not None:
            self.states[user_id] = state
        if inferred:
            self.inferred[user_id] = [
                InferredValue(key, v.value, v.confidence, v.observations, self.now)
                for key, v in inferred.items()
            ]


def write_outputs(engine: Engine, batch: OutputBatch) -> None:
    """Store one batch's outputs with the runs' states and inferred values, drop the silent
    users' old outputs, record the event: one transaction.

    On Postgres the commit does not wait for its WAL flush (``synchronous_commit = off``):
    outputs are derived from signals and rewritten by the next sweep, so a database crash
    can at worst lose the last few hundred milliseconds of them, together with their event,
    never half of a batch. The flush per batch was a tenth of the sweep's write time.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        rows, silent, agent_id = batch.rows, batch.silent, batch.agent_id
        upsert(conn, agent_outputs, rows, keys=("user_id", "agent_id"))
        write_states(conn, agent_id, batch.agent_version, batch.states, batch.now)
        for user_id, values in batch.inferred.items():
            write_inferred(conn, user_id, values)
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
                    "agent_version": batch.agent_version,
                    "users": [r["user_id"] for r in rows],
                },
                batch.now,
            )


def output_row(
    agent: RegisteredAgent,
    user_id: str,
    snippet: Snippet,
    now: datetime,
    expires: datetime,
    params: Mapping[str, Any] | None = None,
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
        "items": [{"ref": i.ref, "label": i.label} for i in snippet.items],
        "params": dict(params or {}),
    }
