"""The tip path on a real database (SQLite and Postgres) with a scripted LLM.

These tests check what reached the prompt and what was recorded; the real embedded
model is exercised in tests/e2e.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from ml.serving.llm.port import LLMError
from ml.serving.tip.prompt import AssembledPrompt
from ml.serving.tip.tip_store import TipStore
from nudge_infra.storage.tables import agent_outputs, tips
from tests.integration.serving.tip_env import Env


def snippet_of(env: Env, user: str, agent: str) -> str:
    with env.nudge.engine.connect() as conn:
        return str(
            conn.execute(
                select(agent_outputs.c.snippet).where(
                    agent_outputs.c.user_id == user, agent_outputs.c.agent_id == agent
                )
            ).scalar_one()
        )


def test_tip_cites_eligible_agents_and_records_provenance(env: Env) -> None:
    env.answer("Send the Q3 invoice before the design review.", ["tasks", "calendar"])
    response = env.client.get("/v1/users/alice/tip")
    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] is False and body["cached"] is False
    assert body["agents"] == ["tasks", "calendar"]
    assert body["text"] == "Send the Q3 invoice before the design review."

    request = env.llm.requests[0]
    prompt = env.prompt_of()
    assert snippet_of(env, "alice", "tasks") in prompt
    assert snippet_of(env, "alice", "calendar") in prompt
    enum = request.json_schema["properties"]["agents"]["items"]["enum"]  # type: ignore[index]
    assert set(enum) >= {"tasks", "calendar"} and "nonexistent" not in enum

    explain = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()
    prov = explain["provenance"]
    assert [c["agent_id"] for c in prov["cited"]] == ["tasks", "calendar"]
    assert prov["cited"][0]["consents"] == ["tasks.read"]
    assert prov["cited"][0]["agent_version"] == env.nudge.registry.current.agents["tasks"].version
    assert prov["prompt"]["name"] == "tip-orchestrator"
    assert prov["prompt"]["version"] == env.nudge.prompts.current().version
    sent = AssembledPrompt(request.messages, fingerprint="").text
    assert prov["prompt"]["sha256"] == hashlib.sha256(sent.encode()).hexdigest()
    assert prov["model"] == {"alias": "tip-generator", "resolved": "fake/tip-generator"}
    assert prov["tokens"]["prompt"] > 0 and prov["latency_ms"]["assembly"] >= 0
    assert prov["fallback"] is False
    eligible = {e["agent_id"] for e in prov["eligible"]}
    assert {c["agent_id"] for c in prov["cited"]} <= eligible


def test_bob_lacks_calendar_consent_and_is_on_vacation(env: Env) -> None:
    registry = env.nudge.registry.current
    silenced = {a.id for a in registry.agents.values() if "vacation" in a.manifest.silenced_in}
    eligible_guess = [a for a in ("sleep", "feedback_history") if a not in silenced]
    env.answer("Go to bed early: you slept 5 h 40 min last night.", eligible_guess[:1])
    body = env.client.get("/v1/users/bob/tip").json()
    prov = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    excluded = {e["agent_id"]: e for e in prov["excluded"]}
    assert excluded["calendar"]["reason"] == "missing_consent"
    assert "calendar.read" in excluded["calendar"]["detail"]
    for agent_id in silenced - {"calendar", "focus"}:
        assert excluded[agent_id]["reason"] == "silenced_by_context", agent_id
    prompt = env.prompt_of()
    assert '<snippet agent="calendar">' not in prompt and '<snippet agent="focus">' not in prompt
    with env.nudge.engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(
                agent_outputs.c.user_id == "bob", agent_outputs.c.agent_id == "calendar"
            )
        ).scalar_one()
    assert stored == 0, "no calendar output may even be computed without consent"


def test_unchanged_inputs_reuse_the_tip_without_an_llm_call(env: Env) -> None:
    env.answer("Send the Q3 invoice before the stand-up.", ["tasks"])
    first = env.client.get("/v1/users/alice/tip").json()
    env.clock.advance(minutes=1)
    second = env.client.get("/v1/users/alice/tip").json()
    assert second["tip_id"] == first["tip_id"] and second["cached"] is True
    assert len(env.llm.requests) == 1
    explain = env.client.get(f"/v1/tips/{first['tip_id']}/explain").json()
    assert explain["serve_count"] == 2

    env.answer("Review Marc's pull request now.", ["tasks"])
    third = env.client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    assert third["tip_id"] != first["tip_id"] and len(env.llm.requests) == 2

    env.nudge.profiles.set_preferences("alice", {"tone": "cheerful"})
    env.answer("Review Marc's pull request, cheerfully.", ["tasks"])
    # New inputs: the last tip comes back at once, marked stale, while the new one is written.
    stale = env.client.get("/v1/users/alice/tip").json()
    assert stale["tip_id"] == third["tip_id"] and stale["stale"] is True
    fourth = env.fresh_tip()
    assert fourth["tip_id"] != third["tip_id"] and fourth["stale"] is False
    assert "tone=cheerful" in env.prompt_of() and len(env.llm.requests) == 3


def test_citations_are_kept_only_where_the_tip_is_grounded(env: Env) -> None:
    env.answer("Send the Q3 invoice first thing.", ["tasks", "habits"])
    body = env.client.get("/v1/users/alice/tip").json()
    assert body["fallback"] is False and body["agents"] == ["tasks"]
    prov = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    assert prov["cited_by_model"] == ["tasks", "habits"]
    assert [c["agent_id"] for c in prov["cited"]] == ["tasks"]


def test_ungrounded_or_looping_tips_fall_back(env: Env) -> None:
    env.answer("Call your mother about the holidays.", ["sleep"])
    body = env.client.get("/v1/users/alice/tip").json()
    prov = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    assert body["fallback"] is True and prov["fallback_reason"] == "invalid_answer"
    assert "names no fact" in prov["llm_error"]
    env.answer("Sprint planning", ["calendar"])
    body = env.client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    prov = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    assert body["fallback"] is True and "fewer than 3 words" in prov["llm_error"]
    env.answer("Tip 1: Send the Q3 invoice", ["tasks"])
    body = env.client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    assert body["fallback"] is False and body["text"] == "Send the Q3 invoice"
    env.answer("Send the invoice, send the invoice, send the invoice, send the invoice.", ["tasks"])
    body = env.client.get("/v1/users/alice/tip", params={"refresh": "true"}).json()
    assert body["fallback"] is True


def test_a_tip_with_a_time_nobody_gave_falls_back(env: Env) -> None:
    env.answer("Send the Q3 invoice before 24:30 tonight.", ["tasks"])
    body = env.client.get("/v1/users/alice/tip").json()
    explained = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()
    assert body["fallback"] is True and explained["fallback_reason"] == "invalid_answer"
    assert explained["fallback_detail"] == "tip has times or numbers it was not given: 24:30"
    # The local time in the user message is something the model was given.
    shown = re.search(r"^Now: .*?(\d{2}:\d{2}) \(Europe/Paris\)", env.prompt_of(), re.M)
    assert shown is not None, env.prompt_of()
    local = shown.group(1)
    env.answer(f"Send the Q3 invoice now, at {local}.", ["tasks"])
    # wait: the model's tip, not the fallback of a poll the busy machine made wait too long
    params = {"refresh": "true", "wait": "30"}
    body = env.client.get("/v1/users/alice/tip", params=params).json()
    assert body["fallback"] is False and body["text"].endswith(f"at {local}.")
    explained = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()
    assert explained["fallback_detail"] is None


def test_snooze_hides_the_tips_items_until_it_ends(env: Env) -> None:
    env.answer("Send the Q3 invoice before the stand-up.", ["tasks"])
    tip = env.client.get("/v1/users/alice/tip").json()
    assert [(i["agent_id"], i["ref"]) for i in tip["items"]] == [("tasks", "task:task-1")]
    until = (env.clock() + timedelta(hours=2)).isoformat()
    fb = env.client.post(
        f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "snooze", "snooze_until": until}
    )
    assert fb.status_code == 200 and fb.json()["new"] is True
    again = env.client.post(
        f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "snooze", "snooze_until": until}
    )
    assert again.json()["new"] is False

    env.answer("Take the free slot for deep work.", ["calendar"])
    nxt = env.client.get("/v1/users/alice/tip").json()
    assert nxt["tip_id"] != tip["tip_id"]
    # Until the tasks agent runs again, its stored snippet still names the snoozed task.
    assert '<snippet agent="tasks">' not in env.prompt_of()
    prov = env.client.get(f"/v1/tips/{nxt['tip_id']}/explain").json()["provenance"]
    excluded = next(e for e in prov["excluded"] if e["agent_id"] == "tasks")
    assert (excluded["reason"], excluded["detail"]) == (
        "item_hidden",
        "mentions task:task-1, which you finished or hid",
    )

    # Run again, the agent leaves the snoozed task out and speaks of the others.
    env.nudge.sweeper.sweep("tasks")
    env.answer("Finish the other task today.", ["tasks"])
    env.client.get("/v1/users/alice/tip", params={"refresh": "true"})
    assert '<snippet agent="tasks">' in env.prompt_of()
    assert "Send the Q3 invoice" not in env.prompt_of()

    env.clock.advance(hours=3)
    env.nudge.sweeper.sweep("tasks")
    env.answer("Send the Q3 invoice now.", ["tasks"])
    env.client.get("/v1/users/alice/tip", params={"refresh": "true"})
    assert "Send the Q3 invoice" in env.prompt_of()


def test_dismiss_hides_the_snippet_until_it_changes(env: Env) -> None:
    env.answer("Read How to run better meetings over lunch.", ["reading_list"])
    tip = env.client.get("/v1/users/alice/tip").json()
    env.client.post(f"/v1/tips/{tip['tip_id']}/feedback", json={"reaction": "dismiss"})
    env.answer("Send the Q3 invoice.", ["tasks"])
    env.client.get("/v1/users/alice/tip")
    assert '<snippet agent="reading_list">' not in env.prompt_of()


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (LLMError("unreachable", "connection refused"), "llm_unreachable"),
        (LLMError("timeout", "no answer"), "llm_timeout"),
        (
            '{"tip": "Do the thing now please.", "agents": ["made_up"], "rationale": "x"}',
            "invalid_answer",
        ),
        ("not json at all", "invalid_answer"),
    ],
)
def test_llm_failure_gives_a_fallback_tip_retried_after_a_while(
    env: Env, failure: object, reason: str
) -> None:
    env.llm.push(failure)  # type: ignore[arg-type]
    response = env.client.get("/v1/users/alice/tip")
    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] is True and body["agents"] == ["tasks"]  # tasks has the top priority
    prov = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    assert prov["fallback_reason"] == reason
    calls = len(env.llm.requests)
    env.clock.advance(seconds=60)  # within the retry delay: the fallback is served again
    again = env.client.get("/v1/users/alice/tip").json()
    assert again["tip_id"] == body["tip_id"] and again["cached"] is True
    assert len(env.llm.requests) == calls
    env.clock.advance(seconds=61)  # past it: the model is asked again
    env.answer("Send the Q3 invoice before the stand-up.", ["tasks"])
    retried = env.fresh_tip()
    assert retried["fallback"] is False and retried["tip_id"] != body["tip_id"]
    assert len(env.llm.requests) == calls + 1


def test_user_with_nothing_eligible_gets_a_fallback_that_says_so(env: Env) -> None:
    env.nudge.profiles.upsert_user("carol", timezone="Asia/Tokyo")
    body = env.client.get("/v1/users/carol/tip").json()
    assert body["fallback"] is True and body["agents"] == []
    assert "Nothing needs your attention" in body["text"]
    assert env.llm.requests == []


def test_revoking_a_consent_deletes_outputs_in_the_same_transaction(env: Env) -> None:
    def count() -> int:
        with env.nudge.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(
                        agent_outputs.c.user_id == "alice",
                        agent_outputs.c.agent_id.in_(["calendar", "focus"]),
                    )
                ).scalar_one()
            )

    assert count() > 0
    r = env.client.put("/v1/users/alice/consents/calendar.read", json={"granted": False})
    assert r.status_code == 200
    assert count() == 0
    env.answer("Send the Q3 invoice.", ["tasks"])
    env.client.get("/v1/users/alice/tip")
    assert '<snippet agent="calendar">' not in env.prompt_of()


def test_revoking_a_consent_forgets_what_was_inferred_under_it(env: Env) -> None:
    def inferred() -> set[str]:
        return set(env.client.get("/v1/users/alice/profile").json()["inferred"])

    assert {"wake_time", "active_hour"} <= inferred()
    assert env.nudge.registry.current.inferred_under("health.read") == ["wake_time"]
    r = env.client.put("/v1/users/alice/consents/health.read", json={"granted": False})
    assert r.status_code == 200
    assert "wake_time" not in inferred() and "active_hour" in inferred()
    env.nudge.sweeper.sweep_all()  # no agent may read the sleep logs now
    assert "wake_time" not in inferred()

    env.client.put("/v1/users/alice/consents/health.read", json={"granted": True})
    env.nudge.sweeper.sweep_all()
    assert "wake_time" in inferred()


def test_every_served_tip_has_a_provenance_record(env: Env) -> None:
    env.answer("Send the Q3 invoice before the stand-up.", ["tasks"])
    env.client.get("/v1/users/alice/tip")
    env.llm.push(LLMError("unreachable"))
    env.client.get("/v1/users/bob/tip")
    with env.nudge.engine.connect() as conn:
        rows = conn.execute(select(tips.c.provenance, tips.c.agents)).all()
    assert len(rows) == 2
    for provenance, agents in rows:
        assert [c["agent_id"] for c in provenance["cited"]] == agents
        assert set(agents) <= {e["agent_id"] for e in provenance["eligible"]}


def _served_row(env: Env, tip_id: str) -> tuple[int, object]:
    with env.nudge.engine.connect() as conn:
        row = conn.execute(
            select(tips.c.serve_count, tips.c.last_served_at).where(tips.c.tip_id == tip_id)
        ).one()
    return int(row[0]), row[1]


def test_a_poll_serving_the_tip_again_writes_nothing_until_the_flush(env: Env) -> None:
    env.answer("Send the Q3 invoice before the stand-up.", ["tasks"])
    first = env.client.get("/v1/users/alice/tip").json()
    stored_before = _served_row(env, first["tip_id"])
    for _ in range(3):
        env.clock.advance(minutes=1)
        again = env.client.get("/v1/users/alice/tip").json()
        assert again["tip_id"] == first["tip_id"] and again["cached"] is True
    assert _served_row(env, first["tip_id"]) == stored_before, "a poll wrote its row"
    explain = env.client.get(f"/v1/tips/{first['tip_id']}/explain").json()
    assert explain["serve_count"] == 4, "this process reads its own serves"

    # A second store on the same database (another API process) counts its own serves.
    other = TipStore(env.nudge.engine)
    head = other.latest("alice")
    assert head is not None
    other.mark_served_again(head, env.clock() + timedelta(minutes=5))

    assert env.nudge.tips.flush_served() == 0, "the explanation wrote this process's serves"
    assert other.flush_served() == 1
    assert other.flush_served() == 0, "a flush writes each serve once"
    count, last = _served_row(env, first["tip_id"])
    assert count == 5
    assert last == env.clock() + timedelta(minutes=5)
    # An earlier serve counted later by a slower process never moves the time back.
    other.mark_served_again(head, env.clock() - timedelta(hours=1))
    other.flush_served()
    assert _served_row(env, first["tip_id"]) == (6, last)


def test_serves_counted_when_the_database_fails_are_written_by_the_next_flush(
    env: Env,
) -> None:
    env.answer("Send the Q3 invoice before the stand-up.", ["tasks"])
    first = env.client.get("/v1/users/alice/tip").json()
    env.clock.advance(minutes=1)
    env.client.get("/v1/users/alice/tip")
    broken = TipStore(create_engine("sqlite:////nonexistent-folder/nudge.db"))
    head = env.nudge.tips.latest("alice")
    assert head is not None and head.serve_count == 2
    broken.mark_served_again(head, env.clock())
    with pytest.raises(OperationalError):
        broken.flush_served()
    broken._served._engine = env.nudge.engine  # the database is back
    assert broken.flush_served() == 1
    assert _served_row(env, first["tip_id"])[0] == 3
