"""The `nudge scheduler` and `nudge worker` loops: what each process does until told to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from google.protobuf.message import Message
from sqlalchemy import Engine

from ml.precompute.dispatch import DistributedPrecompute
from ml.precompute.jobs import EventConsumer, JobQueue
from ml.precompute.refresh import RefreshTrigger
from ml.precompute.scheduler import PrecomputeScheduler
from ml.precompute.sweep import Sweeper
from ml.registry.watcher import LiveRegistry
from nudge_infra.clock import Clock
from nudge_infra.events.codec import SUBJECT_PREFIX
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb

REFRESH_CONSUMER = "nudge-refresh"


def dispatcher(
    engine: Engine, sweeper: Sweeper, registry: LiveRegistry, clock: Clock, queue: JobQueue
) -> DistributedPrecompute:
    return DistributedPrecompute(engine, sweeper, lambda: registry.current, clock, queue)


def run_scheduler_loop(
    precompute: DistributedPrecompute,
    *,
    sweeper: Sweeper,
    registry: LiveRegistry,
    clock: Clock,
    events: EventConsumer,
    prune: Callable[[], object],
    stop: threading.Event,
) -> None:
    """Enqueue every agent's sweeps on its schedule, and a refresh for each signal batch,
    until ``stop`` is set."""
    scheduler = PrecomputeScheduler(
        sweeper, lambda: registry.current, fire=precompute.enqueue_sweep
    )
    registry.on_change = scheduler.sync
    scheduler.start(sweep_now=True)
    scheduler.every("retention", timedelta(hours=1), prune)
    trigger = RefreshTrigger(lambda: registry.current, clock, precompute.enqueue_refresh)

    def on_signals(message: Message) -> None:
        assert isinstance(message, pb.SignalsIngested)
        trigger.on_signals(message.user_id, message.kinds)

    try:
        # Blocks until stopped; reconnects are nats-py's business.
        events.consume(SUBJECT_PREFIX + Topic.SIGNALS_INGESTED, REFRESH_CONSUMER, on_signals, stop)
    finally:
        scheduler.stop()


def run_worker_loop(
    precompute: DistributedPrecompute, *, queue: JobQueue, stop: threading.Event
) -> None:
    """Pull sweep jobs and run them until ``stop`` is set; dead-letter a job's last try."""
    queue.work(precompute.handle, stop, precompute.dead_letter)
