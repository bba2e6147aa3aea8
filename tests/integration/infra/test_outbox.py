"""The transactional outbox on a real database, and its relay to the in-process bus."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Row, func, select

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge_infra.errors import Invalid, NotFound
from nudge_infra.events.bus import Event, InProcessBus, OutboxRelay
from nudge_infra.events.outbox import Topic
from nudge_infra.storage.tables import agent_outputs, consents, outbox, signals
from nudge_profile.signals import SignalIn
from tests.conftest import FixedClock, MakeSettings


@pytest.fixture
def nudge(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Nudge]:
    nudge = bootstrap(settings_for(), clock=clock, llm=FakeLLM())
    for user_id in ("alice", "bob"):
        nudge.profiles.upsert_user(user_id, timezone="Europe/Paris")
    yield nudge
    nudge.stop()


def rows(nudge: Nudge) -> list[Row[Any]]:
    with nudge.engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)))


def signal(kind: str, external_id: str, clock: FixedClock, **payload: Any) -> SignalIn:
    return SignalIn(
        kind=kind,
        external_id=external_id,
        payload=payload or {"title": external_id},
        occurred_at=clock() - timedelta(hours=1),
    )


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.events]


def make_events(nudge: Nudge, clock: FixedClock, count: int) -> list[int]:
    """Write ``count`` outbox rows through real state changes; return their ids."""
    for i in range(count):
        user = ("alice", "bob")[i % 2]
        nudge.signals.ingest(user, [signal("task", f"t{i}", clock)])
        clock.advance(seconds=1)
    return [r.id for r in rows(nudge)]


def test_a_signal_ingest_writes_one_event_with_its_change(nudge: Nudge, clock: FixedClock) -> None:
    stored = nudge.signals.ingest(
        "alice",
        [
            signal("task", "t1", clock),
            signal(
                "calendar_event",
                "e1",
                clock,
                start="2026-11-21T14:00:00+00:00",
                end="2026-11-21T15:00:00+00:00",
            ),
            signal("task", "t1", clock, title="renamed"),  # same key: the last one wins
        ],
    )

    assert stored == 2
    [row] = rows(nudge)
    assert (row.topic, row.key) == (Topic.SIGNALS_INGESTED, "alice")
    assert row.payload == {"user_id": "alice", "kinds": ["calendar_event", "task"], "count": 2}
    assert row.created_at == clock() and row.published_at is None


def test_a_rejected_signal_batch_writes_no_event(nudge: Nudge, clock: FixedClock) -> None:
    limit = nudge.settings.max_signal_payload_bytes
    too_big = signal("task", "huge", clock, title="x" * limit)
    with pytest.raises(Invalid, match="nothing was stored"):
        nudge.signals.ingest("alice", [signal("task", "ok", clock), too_big])
    with pytest.raises(NotFound):
        nudge.signals.ingest("nobody", [signal("task", "ok", clock)])

    assert rows(nudge) == []
    with nudge.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(signals)).scalar_one() == 0


def test_a_consent_change_writes_one_event_with_its_change(nudge: Nudge, clock: FixedClock) -> None:
    seed_demo(nudge, clock())
    nudge.sweeper.sweep("tasks")
    requiring = nudge.registry.current.agents_requiring
    with nudge.engine.connect() as conn:
        outputs_needing = conn.execute(
            select(func.count()).where(
                agent_outputs.c.user_id == "alice",
                agent_outputs.c.agent_id.in_(requiring("tasks.read")),
            )
        ).scalar_one()
    assert outputs_needing >= 1
    before = rows(nudge)
    later = clock.advance(minutes=5)

    deleted = nudge.profiles.set_consent("alice", "tasks.read", False, agents_requiring=requiring)
    nudge.profiles.set_consent("alice", "tasks.read", False, agents_requiring=requiring)

    [row] = rows(nudge)[len(before) :]  # the repeated revocation changes nothing: no event
    assert deleted == outputs_needing
    assert (row.topic, row.key, row.created_at) == (Topic.CONSENT_CHANGED, "alice", later)
    assert row.payload == {
        "user_id": "alice",
        "key": "tasks.read",
        "granted": False,
        "outputs_deleted": deleted,
    }
    with nudge.engine.connect() as conn:
        changed_at = conn.execute(
            select(consents.c.changed_at).where(
                consents.c.user_id == "alice", consents.c.key == "tasks.read"
            )
        ).scalar_one()
    assert changed_at == row.created_at


def test_a_tip_feedback_writes_its_event_and_a_signal_event(
    nudge: Nudge, clock: FixedClock
) -> None:
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    served = asyncio.run(nudge.orchestrator.tip_for("alice"))  # no LLM answer: a fallback tip
    tip_id = served.tip.tip_id
    before = rows(nudge)
    assert before[-1].topic == Topic.TIP_SERVED and before[-1].payload["tip_id"] == tip_id
    now = clock.advance(minutes=1)
    until = now + timedelta(hours=2)

    _, new = nudge.tips.record_feedback(tip_id, "snooze", until, now)
    _, again = nudge.tips.record_feedback(tip_id, "snooze", until, now)

    assert (new, again) == (True, False)
    # The reaction is also a tip_feedback signal: the agents reading it, and those of the
    # tip's items, run again for alice.
    signal, row = rows(nudge)[len(before) :]
    assert (signal.topic, signal.key) == (Topic.SIGNALS_INGESTED, "alice")
    assert "tip_feedback" in signal.payload["kinds"]
    assert (row.topic, row.key, row.created_at) == (Topic.TIP_FEEDBACK, "alice", now)
    assert row.payload == {
        "tip_id": tip_id,
        "user_id": "alice",
        "reaction": "snooze",
        "snooze_until": until.isoformat(),
    }


def test_a_sweep_writes_one_event_per_batch_it_stored(
    settings_for: MakeSettings, clock: FixedClock
) -> None:
    nudge = bootstrap(settings_for(sweep_batch_size=1), clock=clock, llm=FakeLLM())
    try:
        seed_demo(nudge, clock())
        before = len(rows(nudge))
        report = nudge.sweeper.sweep("tasks")
        written = rows(nudge)[before:]
    finally:
        nudge.stop()
    assert report.outputs == 2
    assert [(r.topic, r.key, r.payload["users"]) for r in written] == [
        (Topic.AGENT_OUTPUTS_WRITTEN, "tasks", ["alice"]),
        (Topic.AGENT_OUTPUTS_WRITTEN, "tasks", ["bob"]),
    ]


def test_drain_publishes_every_event_once_in_id_order(nudge: Nudge, clock: FixedClock) -> None:
    ids = make_events(nudge, clock, 5)
    bus = InProcessBus()
    everything, ingests, tips = Collector(), Collector(), Collector()
    bus.subscribe("*", everything)
    bus.subscribe(Topic.SIGNALS_INGESTED, ingests)
    bus.subscribe(Topic.TIP_SERVED, tips)
    relay = OutboxRelay(nudge.engine, bus, clock, batch_size=2)  # three batches

    published_at = clock.advance(minutes=1)
    assert relay.drain() == 5

    assert everything.ids == ids == sorted(ids) and ingests.ids == ids and tips.ids == []
    stored = rows(nudge)
    assert [e.payload for e in everything.events] == [r.payload for r in stored]
    assert [e.created_at for e in everything.events] == [r.created_at for r in stored]
    assert {r.published_at for r in stored} == {published_at}

    assert relay.drain() == 0
    assert everything.ids == ids, "a second drain publishes nothing again"

    [new_id] = make_events(nudge, clock, 1)[-1:]
    assert relay.drain() == 1 and everything.ids == [*ids, new_id]


def test_a_failing_handler_does_not_stop_the_others(
    nudge: Nudge, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = make_events(nudge, clock, 3)
    bus = InProcessBus()
    before, after = Collector(), Collector()

    def explode(event: Event) -> None:
        raise RuntimeError(f"handler bug on {event.id}")

    bus.subscribe(Topic.SIGNALS_INGESTED, before)
    bus.subscribe(Topic.SIGNALS_INGESTED, explode)
    bus.subscribe("*", after)

    assert OutboxRelay(nudge.engine, bus, clock).drain() == 3

    assert before.ids == after.ids == ids
    assert all(r.published_at is not None for r in rows(nudge))
    assert sum("event handler failed" in r.getMessage() for r in caplog.records) == 3


class FlakyPublisher:
    """A bus that is down for its first ``outage`` publishes (a fake of the Publisher port)."""

    def __init__(self, outage: int) -> None:
        self.outage = outage
        self.delivered: list[int] = []

    def publish_many(self, events: Sequence[Event]) -> tuple[int, Exception | None]:
        for sent, event in enumerate(events):
            if self.outage > 0:
                self.outage -= 1
                return sent, ConnectionError("bus unreachable")
            self.delivered.append(event.id)
        return len(events), None


def test_a_bus_outage_loses_no_event(nudge: Nudge, clock: FixedClock) -> None:
    ids = make_events(nudge, clock, 3)
    publisher = FlakyPublisher(outage=1)
    relay = OutboxRelay(nudge.engine, publisher, clock)

    with pytest.raises(ConnectionError):
        relay.drain()
    assert all(r.published_at is None for r in rows(nudge)), "nothing marked while the bus is down"

    assert relay.drain() == 3
    assert publisher.delivered == ids
    assert relay.drain() == 0 and publisher.delivered == ids


def test_the_background_relay_publishes_when_kicked(nudge: Nudge, clock: FixedClock) -> None:
    got = threading.Event()
    seen = Collector()

    def handler(event: Event) -> None:
        seen(event)
        got.set()

    nudge.bus.subscribe(Topic.SIGNALS_INGESTED, handler)
    nudge.relay.start(interval_s=60)  # only a kick can make it drain within the test
    try:
        ids = make_events(nudge, clock, 1)
        nudge.relay.kick()
        assert got.wait(5), "the kicked relay did not publish"
    finally:
        nudge.relay.stop()
    assert seen.ids == ids
