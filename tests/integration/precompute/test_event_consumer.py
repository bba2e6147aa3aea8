"""A durable events consumer outlives a JetStream that is not there yet.

An API process or a scheduler may start before NATS does (a compose file starting
everything at once, a NATS restart); its consumers keep trying and handle the events
published once the server is up. Part of the NATS suite: it runs when NATS_URL is set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import nats
import pytest
from google.protobuf.message import Message

from bench.natsd import NatsServer
from ml.precompute.jobs import EventConsumer
from nudge_infra.events.codec import SUBJECT_PREFIX
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb

pytestmark = pytest.mark.nats

SUBJECT = SUBJECT_PREFIX + Topic.AGENT_OUTPUTS_WRITTEN


def _publish(url: str, user_id: str) -> bool:
    async def send() -> bool:
        nc = await nats.connect(url, connect_timeout=1, allow_reconnect=False)
        try:
            data = pb.AgentOutputWritten(user_ids=[user_id]).SerializeToString()
            await nc.jetstream(timeout=1).publish(SUBJECT, data)
            return True
        except Exception:  # the consumer has not made the stream yet
            return False
        finally:
            await nc.close()

    return asyncio.run(send())


def test_a_consumer_started_before_nats_handles_events_once_it_is_up(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[str] = []

    def handle(message: Message) -> None:
        assert isinstance(message, pb.AgentOutputWritten)
        handled.extend(message.user_ids)

    consumer, stop = EventConsumer(nats_server.url, timeout_s=0.5), threading.Event()
    thread = threading.Thread(
        target=consumer.consume,
        args=(SUBJECT, "test-consumer", handle, stop),
        kwargs={"retry_s": 0.2, "max_retry_s": 0.5},
        daemon=True,
    )
    with caplog.at_level(logging.WARNING, logger="ml.precompute.jobs"):
        thread.start()
        time.sleep(3.5)  # failed attempts: nothing listens on the port yet
        assert thread.is_alive()
        nats_server.start()
        deadline, sent = time.monotonic() + 20, 0
        while not handled:  # the consumer delivers only what is published once it is bound
            assert time.monotonic() < deadline, "no event was handled after NATS came up"
            sent += _publish(nats_server.url, f"user-{sent}")
            time.sleep(0.3)
    stop.set()
    thread.join(timeout=10)
    consumer.close()
    assert not thread.is_alive()
    assert handled[0].startswith("user-")
    retries = [r for r in caplog.records if "cannot reach JetStream" in r.getMessage()]
    assert len(retries) >= 2
    assert all(str(nats_server.port) not in r.getMessage() for r in retries)  # no URL logged
