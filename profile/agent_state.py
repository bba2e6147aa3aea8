"""Per-agent state: the JSON an agent keeps for one user between its runs.

State is versioned with the agent: a state written by another version of the manifest
is not given to the agent (a version bump starts from nothing) unless the manifest says
to keep it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from nudge_infra.storage.tables import agent_state
from nudge_infra.storage.upsert import upsert


def read_states(
    conn: Connection,
    agent_id: str,
    user_ids: Sequence[str],
    *,
    version: int,
    keep_across_versions: bool = False,
) -> dict[str, dict[str, Any]]:
    """The agent's state for each of these users who has one of a usable version."""
    if not user_ids:
        return {}
    rows = conn.execute(
        select(agent_state.c.user_id, agent_state.c.agent_version, agent_state.c.state).where(
            agent_state.c.agent_id == agent_id, agent_state.c.user_id.in_(list(user_ids))
        )
    )
    return {
        user_id: dict(state)
        for user_id, stored_version, state in rows
        if (keep_across_versions or stored_version == version) and isinstance(state, Mapping)
    }


def write_states(
    conn: Connection,
    agent_id: str,
    version: int,
    states: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> None:
    """Store new states (user id → state), in the caller's transaction."""
    rows = [
        {
            "user_id": user_id,
            "agent_id": agent_id,
            "agent_version": version,
            "state": dict(state),
            "updated_at": now,
        }
        for user_id, state in states.items()
    ]
    if rows:
        upsert(conn, agent_state, rows, keys=("user_id", "agent_id"))


def states_of(conn: Connection, user_id: str) -> dict[str, dict[str, Any]]:
    """Every agent's state for one user (export, dry runs): agent id → version, state."""
    rows = conn.execute(
        select(agent_state).where(agent_state.c.user_id == user_id).order_by(agent_state.c.agent_id)
    )
    return {
        row.agent_id: {
            "agent_version": row.agent_version,
            "state": row.state,
            "updated_at": row.updated_at,
        }
        for row in rows
    }
