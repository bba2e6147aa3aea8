"""A sweep batch's inputs: one set-based read per table, then each user's run prepared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from ml.agents.base import UserView
from ml.agents.inference import InferenceError
from ml.precompute.inputs import Prepared, prepare
from ml.registry.registry import RegisteredAgent
from nudge_profile.agent_state import read_states
from nudge_profile.items import as_marks, read_marks
from nudge_profile.signals import read_signals
from nudge_profile.sweep_users import SweepUser


@dataclass(slots=True)
class BatchInputs:
    prepared: list[Prepared] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(user id, reason) for users whose input could not be built (an inferrer failed)."""

    def by_user(self) -> dict[str, Prepared]:
        return {p.input.user.user_id: p for p in self.prepared}


def read_batch_inputs(
    conn: Connection, agent: RegisteredAgent, users: Sequence[SweepUser], now: datetime
) -> BatchInputs:
    """Read the batch's signals, item marks and states (one query each) and prepare each
    user's run; users without a known time zone are left out (the caller reports them)."""
    ids = [u.user_id for u in users if u.timezone is not None]
    found = read_signals(conn, ids, agent.manifest.reads)
    marks = read_marks(conn, ids, now)
    states = read_states(
        conn,
        agent.id,
        ids,
        version=agent.version,
        keep_across_versions=agent.manifest.state.keep_across_versions,
    )
    batch = BatchInputs()
    for user in users:
        if user.timezone is None:
            continue
        try:
            batch.prepared.append(
                prepare(
                    agent,
                    UserView(user.user_id, user.timezone, user.preferences),
                    now,
                    found.get(user.user_id, []),
                    state=states.get(user.user_id),
                    marks=as_marks(marks.get(user.user_id, []), now),
                )
            )
        except InferenceError as exc:
            batch.failures.append((user.user_id, str(exc)[:500]))
    return batch
