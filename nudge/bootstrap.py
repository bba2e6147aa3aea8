"""The composition root: the only place that turns settings into running parts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine

from ml.precompute.refresh import LocalRefresh, RefreshTrigger
from ml.precompute.scheduler import PrecomputeScheduler
from ml.precompute.sweep import Sweeper
from ml.registry.watcher import LiveRegistry
from ml.serving.http.app import Services, create_app
from ml.serving.http.auth import Authenticator
from ml.serving.http.ratelimit import TipRateLimit
from ml.serving.llm.embedded_server import EmbeddedLLM
from ml.serving.llm.litellm_client import LiteLLMClient, LLMClient, knows, load_model_list
from ml.serving.prompts.experiments import Arm, Experiments, choose_arm
from ml.serving.prompts.prompt_registry import LivePrompts, PromptRegistry
from ml.serving.tip.orchestrator import GenerationConfig, Orchestrator
from ml.serving.tip.prompt import DEFAULT_PROMPT
from ml.serving.tip.tip_store import TipStore
from nudge.credentials import Credentials, load_or_create
from nudge.settings import Settings
from nudge_infra.clock import Clock, utc_now
from nudge_infra.events.bus import InProcessBus, OutboxRelay
from nudge_infra.events.jetstream import JetStreamPublisher
from nudge_infra.events.outbox import Topic
from nudge_infra.storage.engine import make_engine, migrate, ping
from nudge_infra.storage.retention import RetentionPolicy, prune
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
    scheduler: PrecomputeScheduler | None = None
    _started: list[str] = field(default_factory=list)
    _scheduler_expected: bool = False

    def services(self) -> Services:
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
            tip_rate=TipRateLimit(self.settings.tip_rate_limit),
            experiments=self.experiments,
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
        """Apply the retention policy now (the scheduler does it every hour)."""
        policy = RetentionPolicy(
            tips=timedelta(days=self.settings.retention_days),
            events=timedelta(days=self.settings.event_retention_days),
        )
        return prune(self.engine, self.clock, policy)

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
        checks["prompt"] = self.prompts.status()
        if self._scheduler_expected:  # not in `nudge api`: schedulers run elsewhere
            checks["scheduler"] = {"ok": self.scheduler is not None and self.scheduler.running}
        if isinstance(self.bus, JetStreamPublisher):
            # Writes go on while NATS is away: the outbox keeps the events until it is back.
            checks["bus"] = {"ok": self.bus.connected, "degraded_only": True}
        return checks


def bootstrap(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    llm: LLMClient | None = None,
) -> Nudge:
    """Build every part from ``settings``; start nothing yet."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    registry = LiveRegistry(settings.manifests_dir, allowed_packages=settings.agent_packages)
    registry.reload()
    embedded: EmbeddedLLM | None = None
    if settings.embedded_llm:
        embedded = EmbeddedLLM(
            port=settings.embedded_llm_port, threads=settings.embedded_llm_threads
        )
    if llm is None:
        base = (
            embedded.base_url if embedded else f"http://127.0.0.1:{settings.embedded_llm_port}/v1"
        )
        llm = LiteLLMClient(
            load_model_list(settings.litellm_config, substitutions={"embedded_llm": base})
        )
    tips = TipStore(engine)
    credentials = load_or_create(settings)
    auth = Authenticator(
        gateway_tokens=[credentials.gateway_token],
        admin_tokens=[credentials.admin_token],
        jwt_secret=credentials.jwt_secret,
        clock=clock,
    )
    bus: InProcessBus | JetStreamPublisher = (
        JetStreamPublisher(settings.nats_url) if settings.nats_url else InProcessBus()
    )
    experiments = Experiments.load(settings.experiments_file)
    experiments.check_models(partial(knows, llm))
    prompts = LivePrompts(
        PromptRegistry(settings.mlflow_uri) if settings.prompt_registry == "mlflow" else None,
        name=settings.prompt_name,
        alias=settings.prompt_alias,
        shipped=DEFAULT_PROMPT,
        refresh_s=settings.prompt_refresh_s,
        pinned=experiments.prompt_refs(),
    )
    config = GenerationConfig(
        timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        retry_failed_after=timedelta(seconds=settings.llm_retry_after_s),
    )

    def arm(user_id: str) -> Arm:
        return choose_arm(
            experiments.assign(user_id),
            default_prompt=prompts.current(),
            default_alias=config.alias,
            pinned=prompts.pinned,
        )

    orchestrator = Orchestrator(
        tips=tips,
        registry=lambda: registry.current,
        llm=llm,
        prompt=prompts.current,
        clock=clock,
        config=config,
        arm=arm,
    )
    sweeper = Sweeper(engine, lambda: registry.current, clock, batch_size=settings.sweep_batch_size)
    local_refresh = None
    if isinstance(bus, InProcessBus):
        # Embedded: a signal batch re-runs the agents that read it, here, right after commit.
        # (Distributed, `nudge scheduler` turns SignalsIngested into jobs for the workers.)
        local_refresh = LocalRefresh(sweeper.sweep_users)
        trigger = RefreshTrigger(lambda: registry.current, clock, local_refresh.submit)
        bus.subscribe(
            Topic.SIGNALS_INGESTED,
            lambda event: trigger.on_signals(event.payload["user_id"], event.payload["kinds"]),
        )
    return Nudge(
        settings=settings,
        clock=clock,
        engine=engine,
        registry=registry,
        llm=llm,
        embedded_llm=embedded,
        profiles=ProfileStore(engine, clock),
        signals=SignalStore(
            engine,
            clock,
            max_batch=settings.max_signals_per_batch,
            max_payload_bytes=settings.max_signal_payload_bytes,
        ),
        tips=tips,
        sweeper=sweeper,
        orchestrator=orchestrator,
        bus=bus,
        relay=OutboxRelay(engine, bus, clock),
        auth=auth,
        credentials=credentials,
        prompts=prompts,
        experiments=experiments,
        local_refresh=local_refresh,
    )


def build_app(
    nudge: Nudge, *, start: bool = True, sweep_now: bool = True, scheduler: bool | None = None
) -> FastAPI:
    """The HTTP app; its lifespan starts and stops the background parts
    (``scheduler=False``: HTTP, relay and watcher only, as ``nudge api``)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start:
            await anyio.to_thread.run_sync(
                lambda: nudge.start(sweep_now=sweep_now, scheduler=scheduler)
            )
            await nudge.orchestrator.warm_up()
        try:
            yield
        finally:
            if start:
                await anyio.to_thread.run_sync(nudge.stop)

    return create_app(nudge.services(), lifespan=lifespan)
