"""The `nudge scheduler` and `nudge worker` processes: wiring and signal handling around
the loops of ``ml.precompute.loops``."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ml.precompute.jobs import EventConsumer, JobQueue
from ml.precompute.loops import dispatcher, run_scheduler_loop, run_worker_loop
from nudge.bootstrap import bootstrap
from nudge.settings import Settings

log = logging.getLogger(__name__)


def _until_signalled() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def run_scheduler(settings: Settings) -> None:
    assert settings.nats_url
    nudge = bootstrap(settings)
    queue = JobQueue(settings.nats_url)
    events = EventConsumer(settings.nats_url)
    stop = _until_signalled()
    if settings.watch_manifests:
        nudge.registry.start()
    log.info("scheduler up: enqueueing sweeps and refreshes on %s", settings.nats_url)
    try:
        run_scheduler_loop(
            dispatcher(nudge.engine, nudge.sweeper, nudge.registry, nudge.clock, queue),
            sweeper=nudge.sweeper,
            registry=nudge.registry,
            clock=nudge.clock,
            events=events,
            prune=nudge.prune,
            stop=stop,
        )
    finally:
        events.close()
        queue.close()
        nudge.stop()


def run_worker(settings: Settings) -> None:
    assert settings.nats_url
    nudge = bootstrap(settings)
    queue = JobQueue(settings.nats_url)
    stop = _until_signalled()
    if settings.watch_manifests:
        nudge.registry.start()
    nudge.relay.start()  # the sweeps' AgentOutputWritten events
    log.info("worker up: pulling jobs from %s", settings.nats_url)
    try:
        run_worker_loop(
            dispatcher(nudge.engine, nudge.sweeper, nudge.registry, nudge.clock, queue),
            queue=queue,
            stop=stop,
        )
    finally:
        queue.close()
        nudge.stop()
