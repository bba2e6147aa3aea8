"""The learned policy on the real tip path: it orders only eligible snippets, records its
propensity, learns from reactions, and counts unanswered tips as ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nudge_profile.learned import add_credit
from tests.conftest import FixedClock, MakeSettings
from tests.integration.serving.tip_env import Env, open_env


@pytest.fixture
def learned(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Env]:
    with open_env(settings_for(policy="thompson", policy_top_k=2), clock) as opened:
        yield opened


def _credit(env: Env, agent_id: str, **changes: int) -> None:
    with env.nudge.engine.begin() as conn:
        add_credit(conn, "alice", [agent_id], changes, env.clock())  # type: ignore[arg-type]


def test_the_policy_puts_its_top_two_in_the_prompt_and_records_its_propensity(
    learned: Env,
) -> None:
    learned.answer("Send the Q3 invoice before lunch.", ["tasks"])
    tip = learned.client.get("/v1/users/alice/tip").json()
    prov = learned.client.get(f"/v1/tips/{tip['tip_id']}/explain").json()["provenance"]
    policy = prov["policy"]
    eligible = [e["agent_id"] for e in prov["eligible"]]
    assert policy["name"] == "thompson" and policy["version"].startswith("thompson-1:k2")
    assert policy["order"] == eligible and policy["chosen"] == eligible[:2]
    assert policy["lead"] == eligible[0] and 0 < policy["propensity"] <= 1
    in_prompt = [a for a in eligible if f'<snippet agent="{a}">' in learned.prompt_of()]
    assert in_prompt == policy["chosen"]
    assert {c["agent_id"] for c in policy["candidates"]} == set(eligible)


def test_reactions_move_the_lead_and_consent_still_rules(learned: Env) -> None:
    before = learned.nudge.orchestrator.plan("alice").choice.lead_probabilities
    assert max(before, key=before.__getitem__) == "tasks"  # the prior: highest priority

    _credit(learned, "tasks", served=8, dismissed=8)
    _credit(learned, "habits", served=8, done=8)
    after = learned.nudge.orchestrator.plan("alice").choice
    assert max(after.lead_probabilities, key=after.lead_probabilities.__getitem__) == "habits"
    assert after.lead_probabilities["habits"] > 0.7 > before["habits"]

    # However well an agent does, a consent withdrawn takes it out before the policy runs.
    learned.client.put("/v1/users/alice/consents/habits.read", json={"granted": False})
    plan = learned.nudge.orchestrator.plan("alice")
    assert "habits" not in plan.choice.order
    assert "habits" not in [c.agent_id for c in plan.candidates]


def test_why_the_agent_was_chosen_is_said_in_plain_words(
    settings_for: MakeSettings, clock: FixedClock
) -> None:
    # Every eligible snippet in the prompt: the answer citing tasks is valid wherever the
    # draw ranked it, and the explanation says where that was and why.
    with open_env(settings_for(policy="thompson", policy_top_k=8), clock) as env:
        _credit(env, "tasks", served=5, done=4, dismissed=1)
        env.answer("Send the Q3 invoice before lunch.", ["tasks"])
        tip = env.client.get("/v1/users/alice/tip").json()
        explained = env.client.get(f"/v1/tips/{tip['tip_id']}/explain").json()
    order = explained["provenance"]["policy"]["order"]
    rank = order.index("tasks")
    place = "ranked first" if rank == 0 else f"ranked {rank + 1} of {len(order)}"
    [cited] = [c for c in explained["cited"] if c["agent_id"] == "tasks"]
    assert cited["why_chosen"] == f"{place}: you completed 4 of the 5 Tasks tips you answered"


def test_eligible_snippets_left_out_of_the_prompt_are_explained(learned: Env) -> None:
    learned.answer("Send the Q3 invoice before lunch.", ["tasks"])
    tip = learned.client.get("/v1/users/alice/tip").json()
    explained = learned.client.get(f"/v1/tips/{tip['tip_id']}/explain").json()
    order = explained["provenance"]["policy"]["order"]
    left_out = [u for u in explained["not_used"] if u["reason"] == "not_chosen"]
    assert {u["agent_id"] for u in left_out} == set(order[2:]) and len(order) > 2
    assert all("the policy left it out of the prompt (ranked" in u["why"] for u in left_out)


def test_an_unanswered_tip_counts_as_ignored_until_a_late_answer(learned: Env) -> None:
    learned.answer("Send the Q3 invoice before lunch.", ["tasks"])
    first = learned.client.get("/v1/users/alice/tip").json()
    learned.clock.advance(hours=25)  # past the 24 h answer window
    learned.nudge.sweeper.sweep_all()
    learned.answer("Send the Q3 invoice today.", ["tasks"])
    learned.client.get("/v1/users/alice/tip", params={"refresh": "true"})
    [agent] = first["agents"]  # the lead the policy drew, tasks or not
    counts = learned.client.get("/v1/users/alice/profile").json()["learned"][agent]
    assert (counts["ignored"], counts["done"]) == (1, 0)

    learned.client.post(f"/v1/tips/{first['tip_id']}/feedback", json={"reaction": "done"})
    counts = learned.client.get("/v1/users/alice/profile").json()["learned"][agent]
    assert (counts["ignored"], counts["done"]) == (0, 1)
