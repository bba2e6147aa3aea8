"""The outbox relay on real NATS JetStream, through an outage, counting on the stream.

Each test runs a private nats-server (the binary behind NATS_URL's server) on a free
port with a fresh store, so it can be stopped and started and its stream counted
exactly. Part of the NATS suite: it runs when NATS_URL is set.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bench.natsd import NatsServer
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge_infra.events.codec import decode
from nudge_infra.events.jetstream import EVENTS_STREAM, JOBS_STREAM
from nudge_infra.storage.tables import outbox
from tests.conftest import FixedClock, MakeSettings, gateway_headers

pytestmark = pytest.mark.nats


@pytest.fixture
def server(nats_server: NatsServer) -> NatsServer:
    return nats_server  # started by each test, when it wants the bus back


@pytest.fixture
def nudge(server: NatsServer, settings_for: MakeSettings, clock: FixedClock) -> Iterator[Nudge]:
    llm = FakeLLM()
    n = bootstrap(settings_for(nats_url=server.url), clock=clock, llm=llm)
    seed_demo(n, clock())
    n.sweeper.sweep_all()
    yield n
    n.stop()


def _stream(url: str) -> tuple[int, list[str], list[str]]:
    """What a consumer of the events stream receives: count, Nats-Msg-Ids, subjects."""

    async def read() -> tuple[int, list[str], list[str]]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await js.stream_info(JOBS_STREAM)  # created too
            # A fresh pull consumer from the start of the stream, as a new subscriber.
            sub = await js.pull_subscribe("nudge.events.>", stream=EVENTS_STREAM)
            ids, subjects = [], []
            while True:
                try:
                    batch = await sub.fetch(100, timeout=1.0)
                except TimeoutError:
                    break
                for msg in batch:
                    ids.append((msg.headers or {})["Nats-Msg-Id"])
                    subjects.append(msg.subject)
                    decode(msg.subject, msg.data)  # every message parses
                    await msg.ack()
            await sub.unsubscribe()
            return len(ids), ids, subjects
        finally:
            await nc.close()

    return asyncio.run(read())


def _backlog(nudge: Nudge) -> int:
    with nudge.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()
        )


def test_outage_loses_nothing_and_delivers_each_event_once(
    server: NatsServer, nudge: Nudge, clock: FixedClock
) -> None:
    # NATS is down from the start: every write must still be accepted.
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
        for i in range(5):
            item = {
                "kind": "task",
                "external_id": f"outage-{i}",
                "payload": {"title": f"Task {i}", "due": "2026-11-21"},
                "occurred_at": "2026-11-21T08:00:00Z",
            }
            assert c.post("/v1/users/alice/signals", json={"signals": [item]}).status_code == 200
        answer = {"tip": "Send the Q3 invoice now.", "agents": ["tasks"], "rationale": "Due."}
        nudge.llm.push(json.dumps(answer))  # type: ignore[attr-defined]
        tip = c.get("/v1/users/alice/tip").json()
        until = (clock() + timedelta(hours=1)).isoformat()
        fb = c.post(
            f"/v1/tips/{tip['tip_id']}/feedback",
            json={"reaction": "snooze", "snooze_until": until},
        )
        assert fb.status_code == 200
        with pytest.raises(Exception):  # noqa: B017 - the relay reports the outage
            nudge.relay.drain()
        ready = c.get("/readyz").json()
        assert ready["checks"]["bus"] == {"ok": False, "degraded_only": True}
    pending = _backlog(nudge)
    assert pending >= 8  # seed, sweep, 5 signal batches, tip, feedback

    server.start()
    nudge.relay.start(interval_s=0.2)
    deadline = time.monotonic() + 30
    while _backlog(nudge) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _backlog(nudge) == 0
    with nudge.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.id, outbox.c.topic).order_by(outbox.c.id)).all()
    count, ids, subjects = _stream(server.url)
    assert count == len(rows) == len(set(ids))
    assert [int(i.split("-")[0]) for i in ids] == [r.id for r in rows]  # in outbox order
    assert subjects == [f"nudge.events.{r.topic}" for r in rows]

    # A relay that crashed after publishing but before marking republishes everything:
    # JetStream drops the copies, so each outbox id is still in the stream once.
    with nudge.engine.begin() as conn:
        conn.execute(update(outbox).values(published_at=None))
    nudge.relay.kick()
    deadline = time.monotonic() + 30
    while _backlog(nudge) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _backlog(nudge) == 0
    again, ids_again, _ = _stream(server.url)
    assert again == count and ids_again == ids


def test_streams_are_created_idempotently_and_the_relay_survives_a_restart(
    server: NatsServer, nudge: Nudge
) -> None:
    server.start()
    assert nudge.relay.drain() > 0
    first, _, _ = _stream(server.url)
    server.stop()
    server.start()  # same store: the stream is still there; the client reconnects
    nudge.profiles.set_preferences("alice", {"tone": "calm"})
    nudge.profiles.set_consent("alice", "sleep.read", False, agents_requiring=lambda key: ["sleep"])
    deadline = time.monotonic() + 20
    while True:
        try:
            if nudge.relay.drain() >= 1:
                break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    count, _, subjects = _stream(server.url)
    assert count == first + 1 and subjects[-1] == "nudge.events.consent.changed"
