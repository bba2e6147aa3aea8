"""Precompute jobs on the JetStream work queue: schedulers enqueue, workers pull.

A job is one agent for one batch of users in one schedule window. Its message id is
derived from (agent, version, batch, window), so two schedulers enqueueing the same
window put it on the queue once. A worker acks after the sweep committed, tells the
server it is still working on a slow job, and after ``max_deliver`` failed deliveries
moves the job to ``nudge.dead.<agent>`` and reports it. A job whose last delivery was
lost with its worker (killed, hung) is dead-lettered the same way when the server's
max-deliveries advisory for it arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from google.protobuf.message import Message
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError

from nudge_infra.events.codec import decode
from nudge_infra.events.jetstream import (
    DEAD_PREFIX,
    EVENTS_STREAM,
    JOBS_PREFIX,
    JOBS_STREAM,
    BusUnavailable,
    LoopThread,
    StreamLimits,
)

log = logging.getLogger(__name__)

WORKERS = "nudge-workers"
# Published by the server when it would deliver a job once more than ``max_deliver``.
MAX_DELIVERIES_ADVISORY = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{JOBS_STREAM}.{WORKERS}"


@dataclass(frozen=True, slots=True)
class SweepJob:
    agent_id: str
    agent_version: int
    user_ids: tuple[str, ...]
    window: str
    """``2026-11-21T09:15:00+00:00`` for a scheduled sweep, ``refresh@<bucket>`` for a
    signal-triggered one."""

    @property
    def id(self) -> str:
        users = f"{self.user_ids[0]}..{self.user_ids[-1]}#{len(self.user_ids)}"
        return f"sweep:{self.agent_id}:v{self.agent_version}:{users}:{self.window}"

    @property
    def subject(self) -> str:
        return f"{JOBS_PREFIX}sweep.{self.agent_id}"

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, data: bytes) -> SweepJob:
        raw = json.loads(data)
        return cls(
            raw["agent_id"], int(raw["agent_version"]), tuple(raw["user_ids"]), raw["window"]
        )


def window_start(now: datetime, every: timedelta) -> datetime:
    """The start of the schedule window ``now`` falls in (epoch-aligned)."""
    step = every.total_seconds()
    return datetime.fromtimestamp(now.timestamp() // step * step, tz=now.tzinfo)


Handler = Callable[[SweepJob], None]
DeadLetter = Callable[[SweepJob, str], None]


class JobQueue(LoopThread):
    """Enqueue sweep jobs, or work on them (``work`` blocks until ``stop`` is set)."""

    def __init__(
        self,
        url: str,
        *,
        ack_wait_s: float = 30.0,
        max_deliver: int = 5,
        retry_max_s: float = 30.0,
        limits: StreamLimits | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(url, limits=limits, timeout_s=timeout_s)
        self.ack_wait_s = ack_wait_s
        self.max_deliver = max_deliver
        self.retry_max_s = retry_max_s

    def enqueue(self, job: SweepJob) -> bool:
        """Put the job on the queue; False when the same job was already there."""
        return self.run(self._enqueue(job))

    async def _enqueue(self, job: SweepJob) -> bool:
        js = await self.jetstream()
        ack = await js.publish(
            job.subject, job.encode(), timeout=self.timeout_s, headers={"Nats-Msg-Id": job.id}
        )
        return not ack.duplicate

    def work(self, handle: Handler, stop: threading.Event, on_dead: DeadLetter) -> None:
        """Pull jobs and run ``handle`` on each (in a thread) until ``stop`` is set."""
        self.run(self._work(handle, stop, on_dead), timeout=None)

    async def _work(self, handle: Handler, stop: threading.Event, on_dead: DeadLetter) -> None:
        js = await self.jetstream()
        config = ConsumerConfig(
            durable_name=WORKERS,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            filter_subject=f"{JOBS_PREFIX}>",
        )
        try:
            await js.add_consumer(JOBS_STREAM, config=config)
        except BadRequestError:  # another worker made it with other settings: share it
            log.info("consumer %s exists with another configuration; joining it", WORKERS)
        sub = await js.pull_subscribe_bind(WORKERS, JOBS_STREAM)
        loop = asyncio.get_running_loop()
        lost = await self._on_lost_jobs(js, on_dead)
        while not stop.is_set():
            try:
                messages = await sub.fetch(1, timeout=1.0)
            except TimeoutError:
                continue
            for msg in messages:
                job = SweepJob.decode(msg.data)
                running = loop.run_in_executor(None, handle, job)
                while True:
                    done, _ = await asyncio.wait({running}, timeout=self.ack_wait_s / 3)
                    if done:
                        break
                    await msg.in_progress()  # a slow job extends its deadline
                error = running.exception()
                if error is None:
                    await msg.ack_sync()
                    continue
                deliveries = msg.metadata.num_delivered
                reason = f"{type(error).__name__}: {error}"
                if deliveries >= self.max_deliver:
                    await self._dead_letter(js, job, reason)
                    await msg.term()
                    log.error(
                        "job %s dead-lettered after %d deliveries: %s", job.id, deliveries, reason
                    )
                    await loop.run_in_executor(None, on_dead, job, reason)
                else:
                    log.warning("job %s failed (delivery %d): %s", job.id, deliveries, reason)
                    await msg.nak(delay=min(self.retry_max_s, 2.0**deliveries))
        await lost.unsubscribe()

    async def _dead_letter(self, js: JetStreamContext, job: SweepJob, reason: str) -> None:
        await js.publish(
            f"{DEAD_PREFIX}sweep.{job.agent_id}",
            job.encode(),
            headers={"Nats-Msg-Id": f"dead:{job.id}", "Nudge-Error": reason[:500]},
        )

    async def _on_lost_jobs(self, js: JetStreamContext, on_dead: DeadLetter) -> Subscription:
        """Dead-letter the jobs whose final delivery died with its worker.

        One worker of the queue group takes each advisory; the job is copied to the
        dead-letter subject (deduplicated by its id), then deleted from the work queue,
        where nothing would ever remove it.
        """
        loop = asyncio.get_running_loop()

        async def lost(advisory: Msg) -> None:
            try:
                seq = int(json.loads(advisory.data)["stream_seq"])
                stored = await js.get_msg(JOBS_STREAM, seq)
            except NotFoundError:
                return  # already dead-lettered by another worker
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable max-deliveries advisory: %s", exc)
                return
            job = SweepJob.decode(stored.data or b"")
            reason = f"no worker finished it in {self.max_deliver} deliveries (worker lost)"
            await self._dead_letter(js, job, reason)
            await js.delete_msg(JOBS_STREAM, seq)
            log.error("job %s dead-lettered: %s", job.id, reason)
            await loop.run_in_executor(None, on_dead, job, reason)

        nc = await self.client()
        return await nc.subscribe(MAX_DELIVERIES_ADVISORY, queue=f"{WORKERS}-dead", cb=lost)


class EventConsumer(LoopThread):
    """A durable consumer of one events subject (e.g. signals for the refresh trigger)."""

    def consume(
        self,
        subject: str,
        durable: str,
        handle: Callable[[Message], None],
        stop: threading.Event,
        *,
        retry_s: float = 1.0,
        max_retry_s: float = 30.0,
    ) -> None:
        """Handle each event on ``subject`` until ``stop`` is set. While JetStream cannot
        be reached (at start, or lost beyond nats-py's reconnects) try again, the pause
        doubling from ``retry_s`` to ``max_retry_s``: a consumer never dies of an outage."""
        pause = retry_s
        while not stop.is_set():
            try:
                self.run(self._consume(subject, durable, handle, stop), timeout=None)
            except BusUnavailable as exc:
                # The URL may carry credentials: name the error, not its text.
                log.warning(
                    "consumer %s cannot reach JetStream (%s); trying again in %g s",
                    durable, type(exc.__cause__ or exc).__name__, pause,
                )  # fmt: skip
                stop.wait(pause)
                pause = min(pause * 2, max_retry_s)
            else:
                return

    async def _consume(
        self, subject: str, durable: str, handle: Callable[[Message], None], stop: threading.Event
    ) -> None:
        js = await self.jetstream()
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
            filter_subject=subject,
        )
        try:
            await js.consumer_info(EVENTS_STREAM, durable)
        except NotFoundError:
            await js.add_consumer(EVENTS_STREAM, config=config)
        sub = await js.pull_subscribe_bind(durable, EVENTS_STREAM)
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                messages = await sub.fetch(10, timeout=1.0)
            except TimeoutError:
                continue
            for msg in messages:
                try:
                    event = decode(msg.subject, msg.data)
                    await loop.run_in_executor(None, handle, event)
                except Exception:
                    log.exception("event on %s could not be handled; skipped", msg.subject)
                await msg.ack()
