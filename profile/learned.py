"""What Nudge learned from a user's reactions: per agent, how its tips were answered.

Counts per user and agent (served, done, dismissed, snoozed, ignored) and the same
counts summed over everyone (the population prior a new user starts from). Both are
changed in the transaction that records the tip or the reaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from nudge_infra.storage.tables import agent_credit, agent_population

Outcome = Literal["served", "done", "dismissed", "snoozed", "ignored"]
OUTCOMES: tuple[Outcome, ...] = ("served", "done", "dismissed", "snoozed", "ignored")

Counts = dict[str, int]


def add_credit(
    conn: Connection,
    user_id: str,
    agent_ids: Iterable[str],
    changes: Mapping[Outcome, int],
    now: datetime,
) -> None:
    """Add ``changes`` (outcome → +n or -n) to the user's and the population's counts."""
    delta: dict[str, int] = {k: v for k, v in changes.items() if v}
    if not delta:
        return
    for agent_id in dict.fromkeys(agent_ids):
        _bump(conn, agent_credit, {"user_id": user_id, "agent_id": agent_id}, delta, now)
        _bump(conn, agent_population, {"agent_id": agent_id}, delta, now)


def _bump(
    conn: Connection, table: Table, key: dict[str, str], delta: Mapping[str, int], now: datetime
) -> None:
    # One statement: two processes counting the same user's first tip both succeed.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    row = {name: max(0, delta.get(name, 0)) for name in OUTCOMES}
    conn.execute(
        dialect.insert(table)
        .values(**key, **row, updated_at=now)
        .on_conflict_do_update(
            index_elements=list(key),
            set_={**{name: table.c[name] + n for name, n in delta.items()}, "updated_at": now},
        )
    )


def credit_of(conn: Connection, user_id: str) -> dict[str, Counts]:
    """The user's counts per agent."""
    rows = conn.execute(
        select(agent_credit)
        .where(agent_credit.c.user_id == user_id)
        .order_by(agent_credit.c.agent_id)
    )
    return {row.agent_id: {name: int(row._mapping[name]) for name in OUTCOMES} for row in rows}


def population_credit(conn: Connection) -> dict[str, Counts]:
    """Everyone's counts per agent."""
    rows = conn.execute(select(agent_population).order_by(agent_population.c.agent_id))
    return {row.agent_id: {name: int(row._mapping[name]) for name in OUTCOMES} for row in rows}


def forget_credit(conn: Connection, user_id: str) -> int:
    """Forget what was learned from this user (their counts, not the population's)."""
    return int(conn.execute(delete(agent_credit).where(agent_credit.c.user_id == user_id)).rowcount)
