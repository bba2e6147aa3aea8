"""What the sweeps have done: the latest run and the stored outputs per agent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from nudge_infra.storage.tables import agent_outputs, sweep_runs


def last_sweeps(engine: Engine) -> dict[str, dict[str, Any]]:
    latest = (
        select(sweep_runs.c.agent_id, func.max(sweep_runs.c.id).label("id"))
        .group_by(sweep_runs.c.agent_id)
        .subquery()
    )
    query = select(sweep_runs).join(latest, sweep_runs.c.id == latest.c.id)
    with engine.connect() as conn:
        return {
            row.agent_id: {
                "agent_version": row.agent_version,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
                "status": row.status,
                "users": row.users,
                "outputs": row.outputs,
                "empty": row.empty,
                "failures": row.failures,
                "errors": row.error.splitlines() if row.error else [],
            }
            for row in conn.execute(query)
        }


def output_counts(engine: Engine) -> dict[str, int]:
    query = select(agent_outputs.c.agent_id, func.count()).group_by(agent_outputs.c.agent_id)
    with engine.connect() as conn:
        return {row[0]: int(row[1]) for row in conn.execute(query)}
