"""A new signal reaches the stored outputs in seconds: in process, and through JetStream.

Each round posts a task for a fresh user (the refresh is debounced per user and agent)
and times how long until the tasks agent's stored snippet names it. The p50 and p95 are
printed; NUDGE_REFRESH_REPORT=file also writes them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.protobuf.message import Message
from sqlalchemy import select

from bench.natsd import NatsServer
from bench.stats import summarize
from ml.precompute.dispatch import DistributedPrecompute
from ml.precompute.jobs import EventConsumer, JobQueue
from ml.precompute.refresh import RefreshTrigger
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.runtime import Nudge
from nudge_infra.events.codec import SUBJECT_PREFIX
from nudge_infra.events.outbox import Topic
from nudge_infra.events.pb import events_pb2 as pb
from nudge_infra.storage.tables import agent_outputs
from tests.conftest import MakeSettings, gateway_headers

ROUNDS = 8


def _rounds(nudge: Nudge, client: TestClient, label: str) -> list[float]:
    took = []
    for i in range(ROUNDS):
        user = f"{label}-{i}"
        client.put(f"/v1/users/{user}", json={"timezone": "UTC"})
        client.put(f"/v1/users/{user}/consents/tasks.read", json={"granted": True})
        title = f"Renew passport {label} {i}"
        item = {
            "kind": "task",
            "external_id": "t1",
            "payload": {"title": title, "due": "2026-11-21", "priority": 1},
            "occurred_at": "2026-11-21T08:00:00Z",
        }
        started = time.monotonic()
        assert client.post(f"/v1/users/{user}/signals", json={"signals": [item]}).is_success
        deadline = started + 20
        while True:
            with nudge.engine.connect() as conn:
                snippet = conn.execute(
                    select(agent_outputs.c.snippet).where(
                        agent_outputs.c.user_id == user, agent_outputs.c.agent_id == "tasks"
                    )
                ).scalar()
            if snippet and title in snippet:
                break
            assert time.monotonic() < deadline, f"{user}: no fresh output in 20 s"
            time.sleep(0.02)
        took.append(time.monotonic() - started)
    return took


def _report(label: str, took: list[float]) -> None:
    s = summarize(took)
    figures = {"mode": label, "n": s.n, "p50_s": round(s.p50, 3), "p95_s": round(s.p95, 3)}
    print(f"signal -> fresh output: {figures}")
    if path := os.environ.get("NUDGE_REFRESH_REPORT"):
        with Path(path).open("a", encoding="utf-8") as f:
            f.write(json.dumps(figures) + "\n")


def test_in_process_refresh(sqlite_settings: MakeSettings) -> None:
    nudge = bootstrap(sqlite_settings(), llm=FakeLLM())
    try:
        # The lifespan starts the relay, which hands SignalsIngested to the refresh.
        with TestClient(build_app(nudge), headers=gateway_headers(nudge)) as client:
            took = _rounds(nudge, client, "local")
    finally:
        nudge.stop()
    _report("in process", took)
    assert summarize(took).p95 < 5.0


@pytest.mark.nats
def test_refresh_through_jetstream_and_a_worker(
    sqlite_settings: MakeSettings, nats_server: NatsServer
) -> None:
    server = nats_server
    server.start()
    nudge = bootstrap(sqlite_settings(nats_url=server.url), llm=FakeLLM())
    queue, events = JobQueue(server.url), EventConsumer(server.url)
    precompute = DistributedPrecompute(
        nudge.engine, nudge.sweeper, lambda: nudge.registry.current, nudge.clock, queue
    )
    trigger = RefreshTrigger(
        lambda: nudge.registry.current, nudge.clock, precompute.enqueue_refresh
    )

    def on_signals(message: Message) -> None:
        assert isinstance(message, pb.SignalsIngested)
        trigger.on_signals(message.user_id, message.kinds)

    stop = threading.Event()
    # What `nudge scheduler` and `nudge worker` run, as threads of this test.
    threads: list[Callable[[], None]] = [
        lambda: events.consume(
            SUBJECT_PREFIX + Topic.SIGNALS_INGESTED, "nudge-refresh", on_signals, stop
        ),
        lambda: queue.work(precompute.handle, stop, precompute.dead_letter),
    ]
    running = [threading.Thread(target=t) for t in threads]
    try:
        for t in running:
            t.start()
        nudge.relay.start(interval_s=0.2)
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
            took = _rounds(nudge, client, "nats")
    finally:
        stop.set()
        for t in running:
            t.join(timeout=15)
        events.close()
        queue.close()
        nudge.stop()
    _report("JetStream + worker", took)
    assert summarize(took).p95 < 5.0
