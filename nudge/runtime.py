"""Every long-lived part of a Nudge process, and how they start, stop and report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ml.precompute.refresh import LocalRefresh
from ml.precompute.scheduler import PrecomputeScheduler
from ml.precompute.sweep import Sweeper
from ml.registry.watcher import LiveRegistry
from ml.serving.http.app import Services
from ml.serving.http.auth import Authenticator
from ml.serving.http.ratelimit import TipRateLimit
from ml.serving.llm.embedded_server import EmbeddedLLM
from ml.serving.llm.port import LLMClient
from ml.serving.prompts.experiments import Experiments
from ml.serving.prompts.prompt_registry import LivePrompts
from ml.serving.tip.orchestrator import Orchestrator
from ml.serving.tip.tip_store import TipStore
from ml.serving.tip.tips_ahead import TipsAhead
from nudge.credentials import Credentials
from nudge.settings import Settings
from nudge_infra.clock import Clock
from nudge_infra.events.bus import InProcessBus, OutboxRelay
from nudge_infra.events.jetstream import JetStreamPublisher
from nudge_infra.storage.engine import ping
from nudge_infra.storage.retention import RetentionPolicy, prune
from nudge_profile.insights import Insights
from nudge_profile.signals import SignalStore
from nudge_profile.store import ProfileStore

log = logging.getLogger(__name__)


@dataclass
class Nudge:
    """Every long-lived part of a Nudge process, wired once."""

    settings: Settings
    clock: Clock
    engine: Engine
    registry: LiveRegistry
    llm: LLMClient
    embedded_llm: EmbeddedLLM | None
    profiles: ProfileStore
    signals: SignalStore
    tips: TipStore
    sweeper: Sweeper
    orchestrator: Orchestrator
    bus: InProcessBus | JetStreamPublisher
    relay: OutboxRelay
    auth: Authenticator
    credentials: Credentials
    prompts: LivePrompts
    experiments: Experiments
    local_refresh: LocalRefresh | None = None
    tips_ahead: TipsAhead = field(init=False)
    scheduler: PrecomputeScheduler | None = None
    _started: list[str] = field(default_factory=list)
    _scheduler_expected: bool = False

    def services(self) -> Services:
        redis = self.settings.redis_url
        return Services(
            engine=self.engine,
            clock=self.clock,
            registry=lambda: self.registry.current,
            reload_registry=self.registry.reload,
            orchestrator=self.orchestrator,
            tips=self.tips,
            profiles=self.profiles,
            signals=self.signals,
            readiness=self.readiness,
            on_signals=self.relay.kick,
            max_request_bytes=self.settings.max_request_bytes,
            auth=self.auth,
            tip_rate=TipRateLimit(
                self.settings.tip_rate_limit,
                shared=None if redis is None else redis.get_secret_value(),
            ),
            experiments=self.experiments,
            insights=Insights(self.engine),
            policy_config=self.orchestrator.policy.config,
        )

    def start(
        self, *, llm: bool = True, scheduler: bool | None = None, sweep_now: bool = True
    ) -> None:
        """Start the background parts: embedded LLM, manifest watcher, outbox relay, scheduler.

        ``sweep_now=False`` skips the first sweep of every agent (the caller just ran one).
        """
        self.prompts.start()  # its first lookup runs while the LLM starts
        self._started.append("prompts")
        if llm:
            self.start_llm()
        else:
            self.llm.prepare()
        if not self.prompts.wait_loaded(self.settings.prompt_start_timeout_s):
            log.warning(
                "prompt registry not answering; serving %s until it does",
                self.prompts.current().version,
            )
        if self.settings.watch_manifests:
            self.registry.start()
            self._started.append("registry")
        self.relay.start()
        self._scheduler_expected = self.settings.scheduler if scheduler is None else scheduler
        if self._scheduler_expected:
            self.scheduler = PrecomputeScheduler(self.sweeper, lambda: self.registry.current)
            self.registry.on_change = self.scheduler.sync
            self.scheduler.start(sweep_now=sweep_now)
            self.scheduler.every("retention", timedelta(hours=1), self.prune)

    def start_llm(self) -> None:
        """Start the embedded LLM server (if configured and not running); ready the client."""
        if self.embedded_llm is not None and not self.embedded_llm.running:
            self.embedded_llm.start()
            self._started.append("llm")
        self.llm.prepare()

    def prune(self) -> dict[str, int]:
        """Apply the retention policy and settle unanswered tips now (the scheduler does
        it every hour)."""
        policy = RetentionPolicy(
            tips=timedelta(days=self.settings.retention_days),
            events=timedelta(days=self.settings.event_retention_days),
        )
        counts = prune(self.engine, self.clock, policy)
        # Tips nobody answered within the answer window count as ignored, even for a user
        # who asks for no further tip.
        counts["ignored_tips"] = self.tips.settle(self.clock())
        return counts

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.relay.stop()  # also when a caller started it directly
        if self.local_refresh is not None:
            self.local_refresh.close()
        if isinstance(self.bus, JetStreamPublisher):
            self.bus.close()
        if "registry" in self._started:
            self.registry.stop()
        if "prompts" in self._started:
            self.prompts.stop()
        if "llm" in self._started and self.embedded_llm is not None:
            self.embedded_llm.stop()
        self._started.clear()
        try:
            self.tips.flush_served()
        except SQLAlchemyError as e:
            log.warning("serve counts of the last second not written (%s)", type(e).__name__)
        self.engine.dispose()

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            await anyio.to_thread.run_sync(ping, self.engine)
            checks["database"] = {"ok": True}
        except Exception as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        snapshot = self.registry.current
        checks["registry"] = {
            "ok": bool(snapshot.agents),
            "agents": len(snapshot.agents),
            "rejected_files": len(snapshot.errors),
        }
        alias = self.orchestrator.alias
        llm_ok = await self.llm.health(alias)
        # Tips still flow through the fallback when the LLM is down: degraded, not unready.
        checks["llm"] = {"ok": llm_ok, "degraded_only": True, "alias": alias}
        if (breaker := self.orchestrator.breaker) is not None:
            checks["llm"] |= breaker.status()
        checks["prompt"] = self.prompts.status()
        if self._scheduler_expected:  # not in `nudge api`: schedulers run elsewhere
            checks["scheduler"] = {"ok": self.scheduler is not None and self.scheduler.running}
        if isinstance(self.bus, JetStreamPublisher):
            # Writes go on while NATS is away: the outbox keeps the events until it is back.
            checks["bus"] = {"ok": self.bus.connected, "degraded_only": True}
        return checks
