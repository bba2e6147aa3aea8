"""The composition root: the only place that turns settings into running parts."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from functools import partial

import anyio
from fastapi import FastAPI
from google.protobuf.message import Message
from sqlalchemy.exc import SQLAlchemyError

from ml.precompute.jobs import EventConsumer
from ml.precompute.sweep import Sweeper
from ml.registry.watcher import LiveRegistry
from ml.serving.http.app import create_app
from ml.serving.llm.port import LLMClient, knows
from ml.serving.prompts.experiments import Experiments
from ml.serving.tip.tip_store import TipStore
from ml.serving.tip.tips_ahead import TipsAhead
from nudge.builders import (
    build_auth,
    build_bus,
    build_embedded_llm,
    build_llm_client,
    build_local_refresh,
    build_orchestrator,
    build_prompts,
    build_repeat_guards,
    build_signals,
)
from nudge.runtime import Nudge
from nudge.settings import Settings
from nudge_infra.clock import Clock, utc_now
from nudge_infra.events.bus import InProcessBus, OutboxRelay
from nudge_infra.events.codec import SUBJECT_PREFIX
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb
from nudge_infra.storage.engine import make_engine, migrate
from nudge_profile.signal_kinds import SignalKinds
from nudge_profile.store import ProfileStore

TIPS_AHEAD_CONSUMER = "tips-ahead"
log = logging.getLogger(__name__)


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
    kinds = SignalKinds.load(settings.signal_kinds_dir)
    registry = LiveRegistry(
        settings.manifests_dir, allowed_packages=settings.agent_packages, signal_kinds=kinds
    )
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
    nudge = Nudge(
        settings=settings,
        clock=clock,
        engine=engine,
        registry=registry,
        llm=llm,
        embedded_llm=embedded,
        profiles=ProfileStore(engine, clock),
        signals=build_signals(settings, engine, clock, kinds),
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
            repeats=build_repeat_guards(settings, embedded),
        ),
        bus=bus,
        relay=OutboxRelay(engine, bus, clock),
        auth=auth,
        credentials=credentials,
        prompts=prompts,
        experiments=experiments,
        local_refresh=build_local_refresh(bus, sweeper, registry, clock),
    )
    nudge.tips_ahead = _tips_ahead(nudge)
    return nudge


def _tips_ahead(nudge: Nudge) -> TipsAhead:
    """Rewritten outputs start the active users' next tips: a signal refresh here at once,
    sweeps through their AgentOutputWritten events (in process; with NATS, see
    ``_consume_outputs``)."""
    ahead = TipsAhead(
        nudge.orchestrator, nudge.tips, nudge.clock, backlog=4 * nudge.settings.tip_generations
    )
    if nudge.local_refresh is not None:
        nudge.local_refresh.then = ahead.on_outputs
    if isinstance(nudge.bus, InProcessBus):
        nudge.bus.subscribe(
            Topic.AGENT_OUTPUTS_WRITTEN, lambda event: ahead.on_outputs(event.payload["users"])
        )
    return ahead


def _freeze_heap() -> None:
    """Put what start-up built (modules, the registry, clients, the model's prompt) out of
    the collector's reach: under 50 callers each full collection walked all of it with the
    event loop stopped, 170–370 ms, which was the /healthz p99 of the load benchmark."""
    gc.collect()
    gc.freeze()


async def _flush_served(tips: TipStore, every_s: float = 1.0) -> None:
    """Write the serves counted by polls once a second (a poll writes nothing itself);
    ``Nudge.stop`` writes the last ones."""
    failing = False
    while True:
        await asyncio.sleep(every_s)
        try:
            await anyio.to_thread.run_sync(tips.flush_served)
            failing = False
        except SQLAlchemyError as e:  # kept for the next flush
            if not failing:
                log.warning("could not write the serve counts (%s); retrying", type(e).__name__)
            failing = True


@contextmanager
def _consume_outputs(nudge: Nudge) -> Iterator[None]:
    """With NATS, the API processes share one durable consumer of AgentOutputWritten: each
    event (a worker's batch) reaches one of them, which starts the tips."""
    url = nudge.settings.nats_url
    if url is None:
        yield
        return
    consumer, stop = EventConsumer(url), threading.Event()

    def handle(message: Message) -> None:
        assert isinstance(message, pb.AgentOutputWritten)
        nudge.tips_ahead.on_outputs(list(message.user_ids))

    subject = SUBJECT_PREFIX + Topic.AGENT_OUTPUTS_WRITTEN
    thread = threading.Thread(
        target=consumer.consume, args=(subject, TIPS_AHEAD_CONSUMER, handle, stop), daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        consumer.close()


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
        _freeze_heap()
        nudge.tips_ahead.attach(asyncio.get_running_loop())
        flusher = asyncio.create_task(_flush_served(nudge.tips))
        try:
            with _consume_outputs(nudge):
                yield
        finally:
            flusher.cancel()
            nudge.tips_ahead.attach(None)
            if start:
                await anyio.to_thread.run_sync(nudge.stop)

    return create_app(nudge.services(), lifespan=lifespan)
