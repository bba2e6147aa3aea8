"""Precompute across processes: schedulers enqueue sweep jobs, workers run them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, insert

from ml.precompute.jobs import SweepJob, window_start
from ml.precompute.sweep import Sweeper
from ml.registry.registry import Registry
from nudge_infra.clock import Clock
from nudge_infra.storage.tables import sweep_runs

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job that did nothing useful; the queue retries it, then dead-letters it."""


class Queue(Protocol):
    def enqueue(self, job: SweepJob) -> bool: ...


class DistributedPrecompute:
    def __init__(
        self,
        engine: Engine,
        sweeper: Sweeper,
        registry: Callable[[], Registry],
        clock: Clock,
        queue: Queue,
        *,
        refresh_bucket_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self._sweeper = sweeper
        self._registry = registry
        self._clock = clock
        self._queue = queue
        self._bucket_s = refresh_bucket_s

    def enqueue_sweep(self, agent_id: str) -> int:
        """Enqueue one job per batch of active users for this schedule window; return how
        many were new (a second scheduler enqueueing the same window adds none)."""
        agent = self._registry().get(agent_id)
        if agent is None or not agent.enabled:
            return 0
        window = window_start(self._clock(), agent.manifest.schedule.every).isoformat()
        return sum(
            self._queue.enqueue(SweepJob(agent.id, agent.version, tuple(page), window))
            for page in self._sweeper.user_pages()
        )

    def enqueue_refresh(self, agent_id: str, user_ids: list[str]) -> None:
        agent = self._registry().get(agent_id)
        if agent is None:
            return
        bucket = int(self._clock().timestamp() // self._bucket_s)
        self._queue.enqueue(SweepJob(agent.id, agent.version, tuple(user_ids), f"refresh@{bucket}"))

    def handle(self, job: SweepJob) -> None:
        """Run a job (in a worker). A job for another version of the agent is stale: the
        current version has its own jobs, so this one is dropped."""
        agent = self._registry().get(job.agent_id)
        if agent is None or agent.version != job.agent_version:
            log.info("job %s is stale (agent now %s); dropped", job.id, agent and agent.version)
            return
        report = self._sweeper.sweep_users(job.agent_id, job.user_ids)
        if report.status == "timeout" or (
            report.failures and not report.outputs and not report.empty
        ):
            # Every user failed: likely the agent, or its data, is broken for this batch.
            # Raising hands the job back to the queue: retried, then dead-lettered.
            raise JobFailed(
                f"{report.failures} of {report.users} users failed: "
                + (report.errors[0] if report.errors else report.status)
            )

    def dead_letter(self, job: SweepJob, reason: str) -> None:
        """Record a job that kept failing, where operators look (GET /v1/agents, /metrics)."""
        now: datetime = self._clock()
        with self._engine.begin() as conn:
            conn.execute(
                insert(sweep_runs).values(
                    agent_id=job.agent_id,
                    agent_version=job.agent_version,
                    started_at=now,
                    finished_at=now,
                    status="dead_letter",
                    users=len(job.user_ids),
                    outputs=0,
                    empty=0,
                    failures=len(job.user_ids),
                    error=f"job {job.id} dead-lettered: {reason}"[:2000],
                )
            )
