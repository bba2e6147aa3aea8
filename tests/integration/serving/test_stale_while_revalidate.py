"""A poll never waits behind a generation: the last tip comes back marked stale while the
new one is written; a user with nothing to show waits at most ``wait`` seconds for the
model, then gets the fallback, replaced once the model answers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import pytest

from ml.serving.llm.fake import FakeLLM
from ml.serving.llm.port import LLMRequest, LLMResponse
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.settings import Settings
from tests.conftest import FixedClock, MakeSettings, gateway_headers
from tests.integration.serving.tip_env import Env


class GatedLLM(FakeLLM):
    """A scripted model that answers only once the gate is open: a slow generation."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    async def complete(self, req: LLMRequest) -> LLMResponse:
        self.requests.append(req)
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        self.requests.pop()
        return await super().complete(req)


@pytest.fixture
def gated(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Env]:
    yield from _gated(settings_for(), clock)


@pytest.fixture
def one_slot(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Env]:
    """The same, writing one tip at a time."""
    yield from _gated(settings_for(tip_generations=1), clock)


def _gated(settings: Settings, clock: FixedClock) -> Iterator[Env]:
    from fastapi.testclient import TestClient

    llm = GatedLLM()
    nudge = bootstrap(settings, clock=clock, llm=llm)
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        yield Env(nudge, client, llm, clock)
    llm.gate.set()
    nudge.stop()


def tip(text: str) -> str:
    return json.dumps({"tip": text})


def timed_get(env: Env, **params: str) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    body = env.client.get("/v1/users/alice/tip", params=params).json()
    return body, time.perf_counter() - started


def test_changed_inputs_get_the_last_tip_at_once_and_one_generation(gated: Env) -> None:
    llm = gated.llm
    assert isinstance(llm, GatedLLM)
    llm.push(tip("Send the Q3 invoice before lunch today."))
    first = gated.client.get("/v1/users/alice/tip").json()
    assert first["fallback"] is False and first["stale"] is False

    llm.gate.clear()  # the model becomes slow
    gated.nudge.profiles.set_preferences("alice", {"tone": "terse"})  # new inputs
    llm.push(tip("Review Marc's pull request before noon."))
    polls = [timed_get(gated) for _ in range(5)]
    for body, seconds in polls:
        assert body["tip_id"] == first["tip_id"] and body["stale"] is True
        assert seconds < 1.0  # not behind the generation
    assert len(llm.requests) == 2  # five polls, one generation

    llm.gate.set()
    gated.settle()
    fresh = gated.client.get("/v1/users/alice/tip").json()
    assert fresh["text"] == "Review Marc's pull request before noon."
    assert fresh["stale"] is False and fresh["cached"] is True  # stored by the generation
    assert "tone=terse" in gated.prompt_of()


def test_inputs_replaced_while_queued_are_never_written(one_slot: Env) -> None:
    llm = one_slot.llm
    assert isinstance(llm, GatedLLM)
    llm.push(tip("Send the Q3 invoice before lunch today."))
    first = one_slot.client.get("/v1/users/alice/tip").json()

    llm.gate.clear()
    served = []
    for tone in ("terse", "brief", "plain"):  # each change while the model is still busy
        one_slot.nudge.profiles.set_preferences("alice", {"tone": tone})
        served.append(one_slot.client.get("/v1/users/alice/tip").json())
    assert all(s["tip_id"] == first["tip_id"] and s["stale"] for s in served)
    llm.push(tip("Review Marc's pull request before noon."))
    llm.push(tip("Renew the parking permit before noon."))
    llm.gate.set()
    one_slot.settle()

    prompts = [one_slot.prompt_of(i) for i in range(len(llm.requests))]
    # The first tip, the generation already running (terse), then only the newest inputs:
    # "brief", replaced while it queued for the one slot, never reached the model.
    assert len(prompts) == 3
    assert ["tone=terse" in p for p in prompts[1:]] == [True, False]
    assert "tone=plain" in prompts[2] and not any("tone=brief" in p for p in prompts)
    fresh = one_slot.client.get("/v1/users/alice/tip").json()
    assert fresh["stale"] is False and fresh["text"] == "Renew the parking permit before noon."
    written = one_slot.client.get("/v1/users/alice/tips").json()
    assert [t["text"] for t in written] == [
        "Renew the parking permit before noon.",
        "Review Marc's pull request before noon.",
        "Send the Q3 invoice before lunch today.",
    ]


def test_nothing_to_show_waits_at_most_wait_then_the_fallback_is_replaced(gated: Env) -> None:
    llm = gated.llm
    assert isinstance(llm, GatedLLM)
    llm.gate.clear()
    llm.push(tip("Send the Q3 invoice before lunch today."))
    pending, seconds = timed_get(gated, wait="0.3")
    assert 0.3 <= seconds < 2.0
    assert pending["fallback"] is True and pending["stale"] is False
    explained = gated.client.get(f"/v1/tips/{pending['tip_id']}/explain").json()
    assert explained["provenance"]["fallback_reason"] == "llm_pending"

    again, _ = timed_get(gated, wait="0.3")  # still writing: the fallback, not a second call
    assert again["tip_id"] == pending["tip_id"] and again["stale"] is True
    assert len(llm.requests) == 1

    llm.gate.set()
    gated.settle()
    written = gated.client.get("/v1/users/alice/tip").json()
    assert written["fallback"] is False and written["tip_id"] != pending["tip_id"]
    assert written["created_at"] >= pending["created_at"]
    recent = gated.client.get("/v1/users/alice/tips").json()
    assert [t["tip_id"] for t in recent[:2]] == [written["tip_id"], pending["tip_id"]]


def test_a_tip_is_written_ahead_of_the_poll(gated: Env) -> None:
    llm = gated.llm
    llm.push(tip("Send the Q3 invoice before lunch today."))
    first = gated.client.get("/v1/users/alice/tip").json()
    gated.nudge.profiles.set_preferences("alice", {"tone": "terse"})
    llm.push(tip("Review Marc's pull request before noon."))
    started = gated.client.portal.call(gated.nudge.orchestrator.prepare, "alice")  # type: ignore[union-attr]
    assert started is True
    gated.settle()
    body = gated.client.get("/v1/users/alice/tip").json()
    assert body["tip_id"] != first["tip_id"] and body["stale"] is False and body["cached"]
    assert body["text"] == "Review Marc's pull request before noon."
    # Nothing changed since: preparing again writes nothing.
    assert gated.client.portal.call(gated.nudge.orchestrator.prepare, "alice") is False  # type: ignore[union-attr]
    assert len(llm.requests) == 2


def test_wait_must_be_a_number_of_seconds_within_bounds(gated: Env) -> None:
    for bad in ("-1", "31", "soon"):
        r = gated.client.get("/v1/users/alice/tip", params={"wait": bad})
        assert r.status_code == 422 and "wait" in r.text


def test_new_signals_get_an_active_user_a_tip_before_the_next_poll(gated: Env) -> None:
    llm = gated.llm
    llm.push(tip("Send the Q3 invoice before lunch today."))
    first = gated.client.get("/v1/users/alice/tip").json()
    llm.push(tip("Renew the parking permit before noon."))
    signal = {
        "kind": "task",
        "external_id": "permit",
        "payload": {"title": "Renew the parking permit", "due": gated.clock().date().isoformat()},
        "occurred_at": gated.clock().isoformat(),
    }
    assert gated.client.post("/v1/users/alice/signals", json={"signals": [signal]}).is_success
    gated.nudge.relay.drain()  # what the running relay does every second
    deadline = time.monotonic() + 5
    while len(llm.requests) < 2 or gated.nudge.orchestrator.generating:
        assert time.monotonic() < deadline, "no tip was written after the signals"
        time.sleep(0.02)
    assert '"Renew the parking permit"' in gated.prompt_of()
    body = gated.client.get("/v1/users/alice/tip").json()
    assert body["tip_id"] != first["tip_id"] and body["cached"] is True
    assert body["stale"] is False and body["text"] == "Renew the parking permit before noon."
