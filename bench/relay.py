"""Outbox relay throughput to NATS JetStream vs. a bare nats-py publish loop.

A private nats-server (JetStream, file store) on a free port. N outbox rows (5,000; 1,000
with --quick) of the real topics and payload shapes are written to a SQLite outbox.
Ours: ``OutboxRelay.drain()`` with ``JetStreamPublisher`` (read rows, encode protobuf,
publish with Nats-Msg-Id, wait for each ack, mark published). Floor: the same subjects,
bytes and headers published by a bare nats-py loop that awaits each ack. Rounds
alternate (floor, ours / ours, floor) on fresh rows; the best round of each counts.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from bench.context import BenchContext
from bench.natsd import NatsServer
from bench.stats import render_table

NAME = "relay"
TARGET = 2.0  # floor events/s over ours
ROUNDS = 3


def run(ctx: BenchContext) -> dict[str, Any]:
    import nats

    from nudge_infra.clock import utc_now
    from nudge_infra.events.bus import Event, OutboxRelay
    from nudge_infra.events.codec import encode, subject_of
    from nudge_infra.events.jetstream import JetStreamPublisher, message_id
    from nudge_infra.storage.engine import make_engine, migrate
    from nudge_infra.storage.tables import outbox

    n = ctx.n(5_000, 1_000)
    data = ctx.tmpdir("relay-")
    server = NatsServer(data / "jetstream")
    server.start()
    ctx.on_close(server.stop)
    engine = make_engine(f"sqlite:///{data / 'nudge.db'}")
    migrate(engine)
    publisher = JetStreamPublisher(server.url)
    relay = OutboxRelay(engine, publisher, utc_now, batch_size=500)
    rng = random.Random(3)

    def rows(round_: int) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        made = []
        for i in range(n):
            user = f"u{rng.randrange(10_000):05d}"
            topic, payload = rng.choice(
                [
                    ("signals.ingested", {"user_id": user, "kinds": ["task"], "count": 3}),
                    (
                        "tip.served",
                        {
                            "tip_id": f"t{round_}-{i}",
                            "user_id": user,
                            "agents": ["tasks"],
                            "fallback": False,
                        },
                    ),
                    (
                        "agent.outputs_written",
                        {
                            "agent_id": "tasks",
                            "agent_version": 1,
                            "users": [f"u{j:05d}" for j in range(50)],
                        },
                    ),
                ]
            )
            made.append({"topic": topic, "key": user, "payload": payload, "created_at": now})
        return made

    async def bare(messages: list[tuple[str, bytes, str]]) -> float:
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            started = time.perf_counter()
            for subject, payload, msg_id in messages:
                await js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
            return time.perf_counter() - started
        finally:
            await nc.close()

    ours_s: list[float] = []
    floor_s: list[float] = []
    publisher.run(publisher.jetstream())  # connect, create the streams: not timed
    for round_ in range(ROUNDS):
        for side in ("floor", "ours") if round_ % 2 == 0 else ("ours", "floor"):
            batch = rows(round_ * 2 + (side == "ours"))
            if side == "ours":
                with engine.begin() as conn:
                    conn.execute(insert(outbox), batch)
                started = time.perf_counter()
                sent = relay.drain()
                ours_s.append(time.perf_counter() - started)
                assert sent == n, sent
            else:
                events = [
                    Event(
                        -(round_ * n + i + 1), b["topic"], b["key"], b["payload"], b["created_at"]
                    )
                    for i, b in enumerate(batch)
                ]
                messages = [
                    (subject_of(e.topic), encode(e), "floor-" + message_id(e)) for e in events
                ]
                floor_s.append(asyncio.run(bare(messages)))
    publisher.close()
    engine.dispose()
    ours_rate, floor_rate = n / min(ours_s), n / min(floor_s)
    ratio = floor_rate / ours_rate
    ctx.say(
        render_table(
            ["path", "events", "best s", "events/s"],
            [
                ["relay (ours)", n, f"{min(ours_s):.3f}", f"{ours_rate:,.0f}"],
                ["bare nats-py loop", n, f"{min(floor_s):.3f}", f"{floor_rate:,.0f}"],
            ],
        )
    )
    ctx.say(f"floor/ours {ratio:.2f}x (target <= {TARGET:g}); {ROUNDS} rounds each, best kept")
    ctx.check(NAME, "floor events/s over ours", ratio, TARGET, "at_most")
    return {
        "events": n,
        "ours_s": ours_s,
        "floor_s": floor_s,
        "ours_events_per_s": ours_rate,
        "floor_events_per_s": floor_rate,
        "ratio": ratio,
    }
