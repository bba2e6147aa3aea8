"""A scheduled sweep that rewrites an active user's outputs starts their next tip before
they poll: in process, and through JetStream when the sweep ran on a worker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge_profile.signals import SignalIn
from tests.conftest import FixedClock, MakeSettings, gateway_headers


def tip(text: str) -> str:
    return json.dumps({"tip": text})


def _new_task_without_refresh(nudge: Nudge, clock: FixedClock, title: str) -> None:
    """A signal stored directly: only the next sweep turns it into a snippet."""
    signal = SignalIn(
        kind="task",
        external_id=title.lower().replace(" ", "-"),
        payload={"title": title, "due": clock().date().isoformat()},
        occurred_at=clock(),
    )
    nudge.signals.ingest("alice", [signal])


def _until(condition: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _served_first(client: TestClient, llm: FakeLLM) -> dict[str, object]:
    llm.push(tip("Send the Q3 invoice before lunch today."))
    first: dict[str, object] = client.get("/v1/users/alice/tip").json()
    assert first["fallback"] is False
    return first


def _check_written_ahead(client: TestClient, llm: FakeLLM, first: dict[str, object]) -> None:
    prompt = "\n".join(m.content for m in llm.requests[-1].messages)
    assert '"Renew the parking permit"' in prompt
    body = client.get("/v1/users/alice/tip").json()
    assert body["tip_id"] != first["tip_id"]
    assert body["cached"] is True and body["stale"] is False
    assert body["text"] == "Renew the parking permit before noon."


@pytest.fixture
def embedded(settings_for: MakeSettings, clock: FixedClock) -> Iterator[tuple[Nudge, FakeLLM]]:
    llm = FakeLLM()
    nudge = bootstrap(settings_for(), clock=clock, llm=llm)
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    nudge.relay.drain()
    yield nudge, llm
    nudge.stop()


def test_a_sweep_writes_an_active_users_next_tip_before_the_poll(
    embedded: tuple[Nudge, FakeLLM], clock: FixedClock
) -> None:
    nudge, llm = embedded
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        first = _served_first(client, llm)
        asked = len(llm.requests)
        _new_task_without_refresh(nudge, clock, "Renew the parking permit")
        llm.push(tip("Renew the parking permit before noon."))
        nudge.sweeper.sweep_all()
        nudge.relay.drain()  # what the running relay does every second
        _until(lambda: len(llm.requests) > asked and not nudge.orchestrator.generating, "no tip")
        # Only alice was served a tip: bob's rewritten outputs start nothing.
        assert len(llm.requests) == asked + 1
        _check_written_ahead(client, llm, first)


def test_an_unchanged_sweep_starts_nothing(
    embedded: tuple[Nudge, FakeLLM], clock: FixedClock
) -> None:
    nudge, llm = embedded
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        _served_first(client, llm)
        asked = len(llm.requests)
        nudge.sweeper.sweep_all()
        nudge.relay.drain()
        time.sleep(0.3)
        assert len(llm.requests) == asked and not nudge.orchestrator.generating


@pytest.mark.nats
def test_outputs_written_by_a_worker_reach_the_api_through_jetstream(
    settings_for: MakeSettings, clock: FixedClock, nats_server: object
) -> None:
    nats_server.start()  # type: ignore[attr-defined]
    url = nats_server.url  # type: ignore[attr-defined]
    llm = FakeLLM()
    api = bootstrap(settings_for(nats_url=url), clock=clock, llm=llm)
    worker = bootstrap(settings_for(nats_url=url), clock=clock, llm=FakeLLM())
    seed_demo(api, clock())
    api.sweeper.sweep_all()
    try:
        with TestClient(build_app(api, start=False), headers=gateway_headers(api)) as client:
            first = _served_first(client, llm)
            asked = len(llm.requests)
            _new_task_without_refresh(api, clock, "Renew the parking permit")
            llm.push(tip("Renew the parking permit before noon."))
            worker.sweeper.sweep_all()  # a worker process's sweep of every agent
            worker.relay.drain()  # its relay publishes AgentOutputWritten to JetStream
            _until(lambda: len(llm.requests) > asked, "the API never started the tip")
            _until(lambda: not api.orchestrator.generating, "the tip was never stored")
            _check_written_ahead(client, llm, first)
    finally:
        worker.stop()
        api.stop()
