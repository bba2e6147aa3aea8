"""The composition root: the only place that turns settings into running parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

import anyio
from fastapi import FastAPI

from ml.precompute.sweep import Sweeper
from ml.registry.watcher import LiveRegistry
from ml.serving.http.app import create_app
from ml.serving.llm.port import LLMClient, knows
from ml.serving.prompts.experiments import Experiments
from ml.serving.tip.tip_store import TipStore
from nudge.builders import (
    build_auth,
    build_bus,
    build_embedded_llm,
    build_llm_client,
    build_local_refresh,
    build_orchestrator,
    build_prompts,
)
from nudge.runtime import Nudge
from nudge.settings import Settings
from nudge_infra.clock import Clock, utc_now
from nudge_infra.events.bus import OutboxRelay
from nudge_infra.storage.engine import make_engine, migrate
from nudge_profile.signals import SignalStore
from nudge_profile.store import ProfileStore


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
    embedded = build_embedded_llm(settings)
    if llm is None:
        llm = build_llm_client(settings, embedded)
    auth, credentials = build_auth(settings, clock)
    bus = build_bus(settings)
    experiments = Experiments.load(settings.experiments_file)
    experiments.check_models(partial(knows, llm))
    prompts = build_prompts(settings, experiments)
    tips = TipStore(engine, answer_window=timedelta(hours=settings.answer_window_h))
    sweeper = Sweeper(engine, lambda: registry.current, clock, batch_size=settings.sweep_batch_size)
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
        orchestrator=build_orchestrator(
            settings,
            tips=tips,
            registry=registry,
            llm=llm,
            prompts=prompts,
            experiments=experiments,
            clock=clock,
        ),
        bus=bus,
        relay=OutboxRelay(engine, bus, clock),
        auth=auth,
        credentials=credentials,
        prompts=prompts,
        experiments=experiments,
        local_refresh=build_local_refresh(bus, sweeper, registry, clock),
    )


# A user who was served a tip within this long gets the next one written as soon as new
# signals change their snippets; others get theirs when they next ask.
ACTIVE_WITHIN = timedelta(hours=24)


def _write_tips_ahead(nudge: Nudge, loop: asyncio.AbstractEventLoop) -> None:
    """After a signal refresh (embedded mode), start the refreshed users' next tips on the
    app's event loop, where polls will find them."""
    refresh = nudge.local_refresh
    if refresh is None:
        return

    def then(user_ids: list[str]) -> None:
        for user_id in user_ids:
            prepare = nudge.orchestrator.prepare(user_id, active_within=ACTIVE_WITHIN)
            asyncio.run_coroutine_threadsafe(prepare, loop)

    refresh.then = then


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
        _write_tips_ahead(nudge, asyncio.get_running_loop())
        try:
            yield
        finally:
            if nudge.local_refresh is not None:
                nudge.local_refresh.then = None
            if start:
                await anyio.to_thread.run_sync(nudge.stop)

    return create_app(nudge.services(), lifespan=lifespan)
