"""The `nudge scheduler` and `nudge worker` processes: wiring, signals, and the loops."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

from google.protobuf.message import Message

from ml.precompute.dispatch import DistributedPrecompute
from ml.precompute.jobs import EventConsumer, JobQueue
from ml.precompute.refresh import RefreshTrigger
from ml.precompute.scheduler import PrecomputeScheduler
from nudge.bootstrap import Nudge, bootstrap
from nudge.settings import Settings
from nudge_infra.events.codec import SUBJECT_PREFIX
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb

log = logging.getLogger(__name__)

REFRESH_CONSUMER = "nudge-refresh"


def _until_signalled() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _precompute(nudge: Nudge, queue: JobQueue) -> DistributedPrecompute:
    return DistributedPrecompute(
        nudge.engine, nudge.sweeper, lambda: nudge.registry.current, nudge.clock, queue
    )


def run_scheduler(settings: Settings) -> None:
    assert settings.nats_url
    nudge = bootstrap(settings)
    queue = JobQueue(settings.nats_url)
    events = EventConsumer(settings.nats_url)
    precompute = _precompute(nudge, queue)
    stop = _until_signalled()
    if settings.watch_manifests:
        nudge.registry.start()
    scheduler = PrecomputeScheduler(
        nudge.sweeper, lambda: nudge.registry.current, fire=precompute.enqueue_sweep
    )
    nudge.registry.on_change = scheduler.sync
    scheduler.start(sweep_now=True)
    scheduler.every("retention", timedelta(hours=1), nudge.prune)
    trigger = RefreshTrigger(
        lambda: nudge.registry.current, nudge.clock, precompute.enqueue_refresh
    )

    def on_signals(message: Message) -> None:
        assert isinstance(message, pb.SignalsIngested)
        trigger.on_signals(message.user_id, message.kinds)

    log.info("scheduler up: enqueueing sweeps and refreshes on %s", settings.nats_url)
    try:
        # Blocks until SIGTERM/SIGINT; reconnects are nats-py's business.
        events.consume(SUBJECT_PREFIX + Topic.SIGNALS_INGESTED, REFRESH_CONSUMER, on_signals, stop)
    finally:
        scheduler.stop()
        events.close()
        queue.close()
        nudge.stop()


def run_worker(settings: Settings) -> None:
    assert settings.nats_url
    nudge = bootstrap(settings)
    queue = JobQueue(settings.nats_url)
    precompute = _precompute(nudge, queue)
    stop = _until_signalled()
    if settings.watch_manifests:
        nudge.registry.start()
    nudge.relay.start()  # the sweeps' AgentOutputWritten events
    log.info("worker up: pulling jobs from %s", settings.nats_url)
    try:
        queue.work(precompute.handle, stop, precompute.dead_letter)
    finally:
        queue.close()
        nudge.stop()
