"""A sweep: run one agent for every active user, in batches, and store the snippets."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, delete, func, insert, select

from ml.agents.base import AgentInput, Signal, Snippet, UserView
from ml.precompute.guard import BatchResult, run_batch
from ml.registry.registry import RegisteredAgent, Registry
from nudge_infra.clock import Clock
from nudge_infra.errors import NotFound
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import agent_outputs, consents, preferences, sweep_runs, users
from nudge_infra.storage.upsert import upsert
from nudge_profile.signals import read_signals

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


def snippet_hash(snippet: Snippet) -> str:
    """Identify a snippet's content: a dismissal holds until this changes."""
    text = snippet.text + "\x1f" + (snippet.suggestion or "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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
class _BatchUser:
    user_id: str
    zone_name: str
    timezone: ZoneInfo | None
    """None when ``zone_name`` is not a known zone: that user's failure, not the sweep's."""
    preferences: Mapping[str, Any]
    granted: frozenset[str]


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
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(users).where(users.c.active.is_(True))
                ).scalar_one()
            )

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
                    page = self._load_users(conn, ids)
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
                batch = self._load_users(conn, list(user_ids))
            if batch:
                self._sweep_batch(agent, batch, report.started_at, report)
        return self._finish(report)

    def user_pages(self) -> Iterator[list[str]]:
        """The active users' ids, in pages of the batch size (what a scheduler enqueues)."""
        after: str | None = None
        while True:
            query = select(users.c.user_id).where(users.c.active.is_(True))
            if after is not None:
                query = query.where(users.c.user_id > after)
            with self._engine.connect() as conn:
                page = list(
                    conn.execute(query.order_by(users.c.user_id).limit(self._batch_size)).scalars()
                )
            if not page:
                return
            yield page
            after = page[-1]

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

    def preview(self, agent_id: str, user_id: str) -> tuple[Snippet | None, str | None]:
        """Run one agent for one user and return its snippet or error; store nothing."""
        agent = self._agent(agent_id)
        with self._engine.connect() as conn:
            batch = self._load_users(conn, [user_id])
            if not batch:
                raise NotFound("user", user_id)
            if batch[0].timezone is None:
                return None, _unknown_zone(batch[0])
            missing = sorted(set(agent.manifest.consents) - batch[0].granted)
            if missing:
                # A preview reads the user's data too: the same consents apply.
                return None, f"{user_id} has not granted {', '.join(missing)}"
            inputs = self._inputs(conn, agent, batch, self._clock())
        result = run_batch(agent.id, agent.impl, inputs, timeout_s=_seconds(agent))
        if result.timed_out_user is not None:
            return None, f"timed out after {_seconds(agent)}s"
        outcome = result.outcomes[0]
        return outcome.snippet, outcome.error

    def _load_users(self, conn: Connection, ids: Sequence[str]) -> list[_BatchUser]:
        if not ids:
            return []
        zones = {
            r.user_id: r.timezone
            for r in conn.execute(
                select(users.c.user_id, users.c.timezone).where(users.c.user_id.in_(ids))
            )
        }
        prefs: dict[str, dict[str, Any]] = {u: {} for u in ids}
        for row in conn.execute(
            select(preferences.c.user_id, preferences.c.key, preferences.c.value).where(
                preferences.c.user_id.in_(ids)
            )
        ):
            prefs[row.user_id][row.key] = row.value
        granted: dict[str, set[str]] = {u: set() for u in ids}
        for grant in conn.execute(
            select(consents.c.user_id, consents.c.key).where(
                consents.c.user_id.in_(ids), consents.c.granted.is_(True)
            )
        ):
            granted[grant.user_id].add(grant.key)
        return [
            _BatchUser(u, zones[u], _zone(zones[u]), prefs[u], frozenset(granted[u]))
            for u in ids
            if u in zones
        ]

    def _inputs(
        self, conn: Connection, agent: RegisteredAgent, batch: Sequence[_BatchUser], now: datetime
    ) -> list[AgentInput]:
        found = read_signals(conn, [u.user_id for u in batch], agent.manifest.reads)
        return [
            agent_input(
                agent,
                UserView(u.user_id, u.timezone, u.preferences),
                now,
                found.get(u.user_id, []),
            )
            for u in batch
            if u.timezone is not None
        ]

    def _sweep_batch(
        self, agent: RegisteredAgent, batch: list[_BatchUser], now: datetime, report: SweepReport
    ) -> None:
        required = set(agent.manifest.consents)
        allowed = [u for u in batch if required <= u.granted]
        refused = [u.user_id for u in batch if not required <= u.granted]
        report.users += len(batch)
        report.skipped_no_consent += len(refused)
        for user in allowed:
            if user.timezone is None:
                report.failed(user.user_id, _unknown_zone(user))
        with self._engine.connect() as conn:
            inputs = self._inputs(conn, agent, allowed, now)
        result = run_batch(agent.id, agent.impl, inputs, timeout_s=_seconds(agent))
        if result.timed_out_user is not None:
            report.status = "timeout"
            report.failed(result.timed_out_user, f"timed out after {_seconds(agent)}s")
        self._store(agent, result, refused, now, report)

    def _store(
        self,
        agent: RegisteredAgent,
        result: BatchResult,
        refused: list[str],
        now: datetime,
        report: SweepReport,
    ) -> None:
        expires = now + agent.manifest.ttl
        rows: list[dict[str, Any]] = []
        silent = list(refused)
        for outcome in result.outcomes:
            if outcome.error is not None:
                report.failed(outcome.user_id, outcome.error)
            elif outcome.snippet is None:
                report.empty += 1
                silent.append(outcome.user_id)
            else:
                rows.append(_output_row(agent, outcome.user_id, outcome.snippet, now, expires))
        write_outputs(
            self._engine, rows, agent_id=agent.id, agent_version=agent.version, silent=silent,
            now=now,
        )  # fmt: skip
        report.outputs += len(rows)

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


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # removed from tzdata, or never a zone
        return None


def _unknown_zone(user: _BatchUser) -> str:
    return f"unknown time zone {user.zone_name!r}"


def agent_input(
    agent: RegisteredAgent, user: UserView, now: datetime, signals: Sequence[Signal]
) -> AgentInput:
    """One agent run's input: the user's preferences ``<agent id>.<param>`` override the
    manifest's param defaults. ``signals`` are the kinds it reads, newest first."""
    prefix = agent.id + "."
    overrides = {k[len(prefix) :]: v for k, v in user.preferences.items() if k.startswith(prefix)}
    return AgentInput(
        user=user, now=now, signals=signals, params=agent.manifest.resolved_params(overrides)
    )


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


def _seconds(agent: RegisteredAgent) -> float:
    return agent.manifest.timeout.total_seconds()


def _output_row(
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
