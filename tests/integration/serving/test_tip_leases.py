"""API processes sharing a database write a user's tip for one set of inputs once: the
lease in the database, alone and under two orchestrators polled by 20 callers."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from ml.serving.tip.tip_lease import TipLeases
from ml.serving.tip.tip_writer import PENDING
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge_infra.storage.tables import tip_leases, tips
from tests.conftest import FixedClock, MakeSettings, gateway_headers

pytest_plugins = ["tests.llm_fixtures"]

TTL = timedelta(seconds=30)


@pytest.fixture
def nudge(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Nudge]:
    n = bootstrap(settings_for(), clock=clock)
    yield n
    n.stop()


def test_one_holder_at_a_time_and_an_expired_lease_is_taken_over(
    nudge: Nudge, clock: FixedClock
) -> None:
    first = TipLeases(nudge.engine, clock, ttl=TTL)
    second = TipLeases(nudge.engine, clock, ttl=TTL)
    assert first.holder != second.holder

    assert first.acquire("alice", "fp1")
    assert not second.acquire("alice", "fp1")
    assert second.held_elsewhere("alice", "fp1") and not first.held_elsewhere("alice", "fp1")
    assert second.acquire("alice", "fp2")  # other inputs: another lease
    assert second.acquire("bob", "fp1")

    second.release("alice", "fp1")  # not theirs: nothing happens
    assert not second.acquire("alice", "fp1")
    first.release("alice", "fp1")
    assert second.acquire("alice", "fp1")

    clock.advance(seconds=TTL.total_seconds() + 1)  # the holder died: its lease expired
    assert not first.held_elsewhere("alice", "fp1")
    assert first.acquire("alice", "fp1")
    assert not second.acquire("alice", "fp1")
    assert first.prune() == 2  # second's two other leases expired too
    with nudge.engine.connect() as conn:
        rows = conn.execute(select(tip_leases.c.user_id, tip_leases.c.holder)).all()
    assert rows == [("alice", first.holder)]


# Two API processes: two Nudges on one Postgres database, each with its own orchestrator,
# locks and generations, talking to one embedded model. They share only the database.

USERS = ["alice", "bob", "carol", "dave", "erin"]
CALLERS = 20
SECONDS = 25.0


def _add_user(client: TestClient, user: str, now: datetime) -> None:
    client.put(f"/v1/users/{user}", json={"timezone": "Europe/Paris"}).raise_for_status()
    for key in ("tasks.read", "calendar.read", "habits.read"):
        client.put(f"/v1/users/{user}/consents/{key}", json={"granted": True})
    _new_task(client, user, now, 0)


def _new_task(client: TestClient, user: str, now: datetime, n: int) -> None:
    signal = {
        "kind": "task",
        "external_id": f"lease-{n}",
        "payload": {"title": f"Call the plumber about leak {n}", "due": now.date().isoformat()},
        "occurred_at": now.isoformat(),
    }
    client.post(f"/v1/users/{user}/signals", json={"signals": [signal]}).raise_for_status()


def _process(settings_for: MakeSettings, server_url: str) -> Nudge:
    settings = settings_for(llm_timeout_s=20.0, tip_rate_limit="100000/minute")
    models = load_model_list(settings.litellm_config, substitutions={"embedded_llm": server_url})
    return bootstrap(settings, llm=LiteLLMClient(models))


@pytest.mark.llm
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_two_processes_write_each_tip_once(
    settings_for: MakeSettings, embedded_llm_url: str
) -> None:
    a, b = _process(settings_for, embedded_llm_url), _process(settings_for, embedded_llm_url)
    now = datetime.now(UTC)
    seed_demo(a, now)
    try:
        with (
            TestClient(build_app(a, start=False), headers=gateway_headers(a)) as ca,
            TestClient(build_app(b, start=False), headers=gateway_headers(b)) as cb,
        ):
            for user in USERS[2:]:
                _add_user(ca, user, now)
            a.sweeper.sweep_all()
            errors = _poll_from_both([(ca, a), (cb, b)], now)
            _settle(a)
            _settle(b)
    finally:
        a.stop()
        b.stop()
    assert errors == []
    with a.engine.connect() as conn:
        rows = conn.execute(
            select(tips.c.user_id, tips.c.fingerprint).where(
                tips.c.fallback_reason.is_(None) | (tips.c.fallback_reason != PENDING)
            )
        ).all()
    generations = Counter((user, fingerprint) for user, fingerprint in rows)
    assert len(generations) >= len(USERS) + 3  # inputs really changed under the callers
    assert {key: n for key, n in generations.items() if n > 1} == {}


def _poll_from_both(processes: list[tuple[TestClient, Nudge]], now: datetime) -> list[str]:
    """20 callers, half on each process, polling the five users; one poll in ten is
    preceded by a new task for that user (new inputs, through either process)."""
    errors: list[str] = []
    stop_at = time.monotonic() + SECONDS
    changes = iter(range(1, 10_000))
    locks = [threading.Lock() for _ in processes]

    def caller(k: int) -> None:
        (client, nudge), rng = processes[k % 2], random.Random(k)
        while time.monotonic() < stop_at:
            user = rng.choice(USERS)
            if rng.random() < 0.1:
                with locks[k % 2]:
                    n = next(changes)
                    _new_task(client, user, now, n)
                    nudge.relay.drain()  # what the running relay does every second
            r = client.get(f"/v1/users/{user}/tip", params={"wait": "0"})
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:200]}")
            time.sleep(0.05)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _settle(nudge: Nudge, timeout: float = 60.0) -> None:
    """Let the generations still running in this process finish."""
    deadline = time.monotonic() + timeout
    while nudge.orchestrator.generating and time.monotonic() < deadline:
        time.sleep(0.1)
