"""Fire each agent's sweep at its manifest interval, following registry changes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ml.precompute.sweep import Sweeper
from ml.registry.registry import Registry

log = logging.getLogger(__name__)


class PrecomputeScheduler:
    """One interval job per enabled agent, kept in step with the live registry."""

    def __init__(
        self,
        sweeper: Sweeper,
        registry: Callable[[], Registry],
        *,
        workers: int = 2,
        fire: Callable[[str], object] | None = None,
    ) -> None:
        """``fire(agent_id)`` runs at each agent's interval: a sweep here by default, or
        enqueueing jobs for workers (``nudge scheduler``)."""
        self._sweeper = sweeper
        self._fire = fire or sweeper.sweep
        self._registry = registry
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self._plans: dict[str, tuple[float, float, int]] = {}

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self, *, sweep_now: bool = True) -> None:
        self._scheduler.start()
        self.sync(self._registry(), sweep_now=sweep_now)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def sync(self, registry: Registry, *, sweep_now: bool = True) -> None:
        """Add, reschedule or remove jobs so they match ``registry``.

        An agent that is new, or whose version changed, is also swept at once: its older
        outputs just became ineligible and users should not wait a whole interval.
        """
        wanted = {a.id: a for a in registry.enabled()}
        for agent_id in set(self._plans) - set(wanted):
            self._scheduler.remove_job(agent_id)
            del self._plans[agent_id]
        for agent_id, agent in wanted.items():
            schedule = agent.manifest.schedule
            plan = (schedule.every.total_seconds(), schedule.jitter.total_seconds(), agent.version)
            previous = self._plans.get(agent_id)
            if previous == plan:
                continue
            # APScheduler pauses a job given next_run_time=None, so pass it only to run now.
            now_kw = {}
            if sweep_now and (previous is None or previous[2] != plan[2]):
                now_kw["next_run_time"] = datetime.now(UTC)
            self._scheduler.add_job(
                self._sweep,
                IntervalTrigger(seconds=plan[0], jitter=int(plan[1]) or None, timezone=UTC),
                args=[agent_id],
                id=agent_id,
                name=f"sweep {agent_id}",
                replace_existing=True,
                **now_kw,
            )
            self._plans[agent_id] = plan

    def every(self, name: str, interval: timedelta, job: Callable[[], object]) -> None:
        """Also run ``job`` every ``interval`` (housekeeping that is not an agent's sweep)."""

        def guarded() -> None:
            try:
                job()
            except Exception:
                log.exception("job %s failed; it runs again in %s", name, interval)

        self._scheduler.add_job(
            guarded,
            IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
            id=f"job:{name}",
            name=name,
            replace_existing=True,
        )

    def _sweep(self, agent_id: str) -> None:
        try:
            self._fire(agent_id)
        except Exception:
            log.exception("sweep of %s failed", agent_id)
