"""The loop through the user: a tip names items, done closes them for good, dismiss and
snooze hide them for a while, and a changed signal reopens them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from nudge_infra.storage.tables import item_marks, tip_feedback
from nudge_profile.signals import read_signals
from tests.conftest import FixedClock, MakeSettings
from tests.integration.serving.tip_env import Env, open_env

# Friday before the spring clock change in Europe/Paris (alice's zone): 29 March 2026.
BEFORE_DST = datetime(2026, 3, 27, 8, 30, tzinfo=UTC)
INVOICE = "Send the Q3 invoice"


@pytest.fixture
def spring(settings_for: MakeSettings) -> Iterator[Env]:
    with open_env(settings_for(), FixedClock(BEFORE_DST)) as opened:
        yield opened


def _tip_about_invoice(env: Env) -> dict:
    env.answer(f"{INVOICE} before lunch.", ["tasks"])
    tip = env.client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    assert tip["fallback"] is False, tip
    assert tip["items"] == [{"agent_id": "tasks", "ref": "task:task-1", "label": INVOICE}]
    return tip


def _prompt_after_sweep(env: Env) -> str:
    env.nudge.sweeper.sweep("tasks")
    env.answer("Review the pull request today.", ["tasks"])
    env.client.get("/v1/users/alice/tip", params={"refresh": "true"})
    return env.prompt_of()


def test_a_done_item_never_comes_back_across_midnight_and_a_clock_change(spring: Env) -> None:
    tip = _tip_about_invoice(spring)
    done = spring.client.post(f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "done"})
    assert done.status_code == 200
    assert INVOICE not in _prompt_after_sweep(spring)

    # Past local midnight the tasks agent rewrites its dates ("overdue since yesterday"):
    # a snippet hash changes, the item's ref does not.
    for hours in (16, 24, 48):  # Saturday, Sunday (the clock change), Monday
        spring.clock.advance(hours=hours)
        prompt = _prompt_after_sweep(spring)
        assert '<snippet agent="tasks">' in prompt
        assert INVOICE not in prompt
    profile = spring.client.get("/v1/users/alice/profile").json()
    assert profile["learned"]["tasks"]["done"] == 1


def test_a_changed_signal_reopens_a_done_item_and_the_same_one_does_not(env: Env) -> None:
    tip = _tip_about_invoice(env)
    env.client.post(f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "done"})
    with env.nudge.engine.connect() as conn:
        found = read_signals(conn, ["alice"], ["task"])["alice"]
    [signal] = [s for s in found if s.external_id == "task-1"]

    same = {"kind": "task", "external_id": "task-1", "payload": signal.payload,
            "occurred_at": env.clock().isoformat()}  # fmt: skip
    assert env.client.post("/v1/users/alice/signals", json={"signals": [same]}).status_code == 200
    assert INVOICE not in _prompt_after_sweep(env)

    due = (env.clock() + timedelta(days=2)).date().isoformat()
    moved = {**same, "payload": {**signal.payload, "due": due}}
    assert env.client.post("/v1/users/alice/signals", json={"signals": [moved]}).status_code == 200
    assert INVOICE in _prompt_after_sweep(env)


def test_dismiss_hides_the_item_for_its_period_and_not_the_rest(env: Env) -> None:
    tip = _tip_about_invoice(env)
    env.client.post(f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "dismiss"})
    prompt = _prompt_after_sweep(env)
    assert INVOICE not in prompt
    assert "Review Marc's pull request" in prompt  # the snippet stays, without that task

    env.clock.advance(days=6, hours=23)
    assert INVOICE not in _prompt_after_sweep(env)
    env.clock.advance(hours=2)  # the manifest's dismiss_for (7 days) is over
    assert INVOICE in _prompt_after_sweep(env)


def test_feedback_naming_an_item_the_tip_is_not_about_is_refused_whole(env: Env) -> None:
    tip = _tip_about_invoice(env)
    response = env.client.post(
        f"/v1/tips/{tip['tip_id']}/feedback",
        json={"reaction": "done", "items": ["task:task-1", "task:nope"]},
    )
    assert response.status_code == 422
    body = response.json()
    assert "task:nope" in body["error"]["message"]
    assert body["error"]["details"] == [{"field": "items", "reason": "unknown item ref task:nope"}]
    with env.nudge.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tip_feedback)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(item_marks)).scalar_one() == 0
    assert env.client.get("/v1/users/alice/profile").json()["learned"]["tasks"]["done"] == 0


def test_learned_counts_show_and_can_be_forgotten(env: Env) -> None:
    tip = _tip_about_invoice(env)
    env.client.post(f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "dismiss"})
    learned = env.client.get("/v1/users/alice/profile").json()["learned"]
    assert learned["tasks"] | {"score": 0} == {
        "score": 0, "served": 1, "done": 0, "dismissed": 1, "snoozed": 0, "ignored": 0,
    }  # fmt: skip
    agents = {a["id"]: a for a in env.client.get("/v1/agents").json()["agents"]}
    assert agents["tasks"]["reactions"]["dismissed"] == 1
    assert agents["tasks"]["reactions"]["rates"]["dismissed"] == 1.0

    forgotten = env.client.delete("/v1/users/alice/learned")
    assert forgotten.json() == {"user_id": "alice", "agents": 1}
    learned = env.client.get("/v1/users/alice/profile").json()["learned"]
    assert learned["tasks"]["dismissed"] == 0
    assert env.client.delete("/v1/users/nobody/learned").status_code == 404


def test_feedback_can_close_the_tips_items_one_at_a_time(env: Env) -> None:
    env.answer(f"{INVOICE}, then review Marc's pull request.", ["tasks"])
    tip = env.client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    assert [i["ref"] for i in tip["items"]] == ["task:task-1", "task:task-2"]
    url = f"/v1/tips/{tip['tip_id']}/feedback"
    first = env.client.post(url, json={"reaction": "done", "items": ["task:task-1"]})
    assert first.json()["new"] is True
    prompt = _prompt_after_sweep(env)
    assert INVOICE not in prompt and "Review Marc's pull request" in prompt

    second = env.client.post(url, json={"reaction": "done", "items": ["task:task-2"]})
    assert second.status_code == 200 and second.json()["new"] is False  # one reaction, stored once
    assert "Review Marc's pull request" not in _prompt_after_sweep(env)
    learned = env.client.get("/v1/users/alice/profile").json()["learned"]["tasks"]
    assert learned["done"] == 1  # one tip, done once
