"""A sweep: run one agent for every active user, in batches, and store the snippets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert

from ml.agents.base import Snippet
from ml.precompute.batch import read_batch_inputs
from ml.precompute.guard import BatchResult, run_batch
from ml.precompute.inputs import Prepared
from ml.precompute.outputs import OutputBatch, output_row, write_outputs
from ml.registry.registry import RegisteredAgent, Registry
from nudge_infra.clock import Clock
from nudge_infra.errors import NotFound
from nudge_infra.storage.tables import sweep_runs
from nudge_profile.sweep_users import (
    SweepUser,
    active_user_pages,
    count_active_users,
    read_sweep_users,
)

log = logging.getLogger(__name__)


Progress = Callable[[int], None]


@dataclass(slots=True)
class SweepReport:
    agent_id: str
    agent_version: int
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "ok"
    users: int = 0
    outputs: int = 0
    empty: int = 0
    failures: int = 0
    skipped_no_consent: int = 0
    errors: list[str] = field(default_factory=list)

    def failed(self, user_id: str, reason: str) -> None:
        self.failures += 1
        if len(self.errors) < 20:
            self.errors.append(f"{user_id}: {reason}")


@dataclass(frozen=True, slots=True)
class Preview:
    """One agent run for one user, stored nowhere: what `nudge agents dry-run` shows."""

    snippet: Snippet | None = None
    error: str | None = None
    state: dict[str, Any] | None = None
    prepared: Prepared | None = None


class Sweeper:
    def __init__(
        self,
        engine: Engine,
        registry: Callable[[], Registry],
        clock: Clock,
        *,
        batch_size: int = 2000,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self._clock = clock
        self._batch_size = batch_size

    def count_active_users(self) -> int:
        return count_active_users(self._engine)

    def sweep_all(self, progress: Progress | None = None) -> list[SweepReport]:
        return [self.sweep(a.id, progress) for a in self._registry().enabled()]

    def sweep(self, agent_id: str, progress: Progress | None = None) -> SweepReport:
        """Run one agent for all active users; failures are recorded, never raised."""
        agent = self._agent(agent_id)
        now = self._clock()
        report = SweepReport(agent.id, agent.version, started_at=now)
        if not agent.enabled:
            report.status = "disabled"
        else:
            for ids in self.user_pages():
                with self._engine.connect() as conn:
                    page = read_sweep_users(conn, ids)
                self._sweep_batch(agent, page, now, report)
                if progress is not None:
                    progress(len(ids))
                if report.status != "ok":  # a hung agent: the rest waits for the next sweep
                    break
        return self._finish(report)

    def sweep_users(self, agent_id: str, user_ids: Sequence[str]) -> SweepReport:
        """Run one agent for these users only (a worker's job, a signal-triggered refresh)."""
        agent = self._agent(agent_id)
        report = SweepReport(agent.id, agent.version, started_at=self._clock())
        if not agent.enabled:
            report.status = "disabled"
        else:
            with self._engine.connect() as conn:
                batch = read_sweep_users(conn, list(user_ids))
            if batch:
                self._sweep_batch(agent, batch, report.started_at, report)
        return self._finish(report)

    def user_pages(self) -> Iterator[list[str]]:
        """The active users' ids, in pages of the batch size (what a scheduler enqueues)."""
        return active_user_pages(self._engine, self._batch_size)

    def _agent(self, agent_id: str) -> RegisteredAgent:
        agent = self._registry().get(agent_id)
        if agent is None:
            raise NotFound("agent", agent_id)
        return agent

    def _finish(self, report: SweepReport) -> SweepReport:
        report.finished_at = self._clock()
        if report.status == "ok" and report.failures:
            report.status = "partial"
        self._record(report)
        log.info(
            "sweep %s v%d: %s, %d users, %d outputs, %d failures",
            report.agent_id,
            report.agent_version,
            report.status,
            report.users,
            report.outputs,
            report.failures,
        )
        return report

    def preview(self, agent_id: str, user_id: str) -> Preview:
        """Run one agent for one user and return its snippet or error; store nothing."""
        agent = self._agent(agent_id)
        with self._engine.connect() as conn:
            batch = read_sweep_users(conn, [user_id])
            if not batch:
                raise NotFound("user", user_id)
            if batch[0].timezone is None:
                return Preview(error=batch[0].unknown_zone)
            missing = sorted(set(agent.manifest.consents) - batch[0].granted)
            if missing:
                # A preview reads the user's data too: the same consents apply.
                return Preview(error=f"{user_id} has not granted {', '.join(missing)}")
            inputs = read_batch_inputs(conn, agent, batch, self._clock())
        if inputs.failures:
            return Preview(error=inputs.failures[0][1])
        prepared = inputs.prepared[0]
        result = run_batch(
            agent.id,
            agent.impl,
            [prepared.input],
            timeout_s=_seconds(agent),
            state_max_bytes=agent.manifest.state.max_bytes,
        )
        if result.timed_out_user is not None:
            return Preview(error=f"timed out after {_seconds(agent)}s", prepared=prepared)
        outcome = result.outcomes[0]
        return Preview(outcome.snippet, outcome.error, outcome.state, prepared)

    def _sweep_batch(
        self, agent: RegisteredAgent, batch: list[SweepUser], now: datetime, report: SweepReport
    ) -> None:
        required = set(agent.manifest.consents)
        allowed = [u for u in batch if required <= u.granted]
        refused = [u.user_id for u in batch if not required <= u.granted]
        report.users += len(batch)
        report.skipped_no_consent += len(refused)
        for user in allowed:
            if user.timezone is None:
                report.failed(user.user_id, user.unknown_zone)
        with self._engine.connect() as conn:
            inputs = read_batch_inputs(conn, agent, allowed, now)
        for user_id, reason in inputs.failures:
            report.failed(user_id, reason)
        result = run_batch(
            agent.id,
            agent.impl,
            [p.input for p in inputs.prepared],
            timeout_s=_seconds(agent),
            state_max_bytes=agent.manifest.state.max_bytes,
        )
        if result.timed_out_user is not None:
            report.status = "timeout"
            report.failed(result.timed_out_user, f"timed out after {_seconds(agent)}s")
        self._store(agent, result, inputs.by_user(), refused, now, report)

    def _store(
        self,
        agent: RegisteredAgent,
        result: BatchResult,
        prepared: dict[str, Prepared],
        refused: list[str],
        now: datetime,
        report: SweepReport,
    ) -> None:
        expires = now + agent.manifest.ttl
        batch = OutputBatch(agent.id, agent.version, now, silent=list(refused))
        for outcome in result.outcomes:
            if outcome.error is not None:
                report.failed(outcome.user_id, outcome.error)
                continue
            run = prepared[outcome.user_id]
            batch.add_run(outcome.user_id, outcome.state, run.inferred)
            if outcome.snippet is None:
                report.empty += 1
                batch.silent.append(outcome.user_id)
            else:
                batch.rows.append(
                    output_row(agent, outcome.user_id, outcome.snippet, now, expires, run.sources)
                )
        write_outputs(self._engine, batch)
        report.outputs += len(batch.rows)

    def _record(self, report: SweepReport) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(sweep_runs).values(
                    agent_id=report.agent_id,
                    agent_version=report.agent_version,
                    started_at=report.started_at,
                    finished_at=report.finished_at,
                    status=report.status,
                    users=report.users,
                    outputs=report.outputs,
                    empty=report.empty,
                    failures=report.failures,
                    error="\n".join(report.errors) or None,
                )
            )


def _seconds(agent: RegisteredAgent) -> float:
    return agent.manifest.timeout.total_seconds()
