"""The learned policy on the real tip path: it orders only eligible snippets, records its
propensity, learns from reactions, and counts unanswered tips as ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nudge_profile.learned import add_credit
from tests.conftest import FixedClock, MakeSettings
from tests.integration.serving.tip_env import Env, open_env


@pytest.fixture(params=["bayes-ucb", "thompson"])
def learned(
    request: pytest.FixtureRequest, settings_for: MakeSettings, clock: FixedClock
) -> Iterator[Env]:
    with open_env(settings_for(policy=request.param, policy_top_k=2), clock) as opened:
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
    name = learned.nudge.settings.policy
    assert policy["name"] == name and policy["version"].startswith(f"{name}-1:k2")
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


def test_a_poll_redraws_only_when_a_new_tip_would_be_made(
    settings_for: MakeSettings, clock: FixedClock
) -> None:
    # epsilon 1: every order is a uniform draw, so only the seed decides it. Within one
    # hour (one prompt) the same inputs draw the same order, so a poll hits the tip cache;
    # a new hour makes a new prompt, and a new tip must not reuse the last tip's draw.
    with open_env(settings_for(policy="bayes-ucb", policy_epsilon=1.0), clock) as env:
        env.clock.now = env.clock.now.replace(minute=0)
        orders: dict[tuple[object, ...], set[tuple[str, ...]]] = {}
        for step in range(8 * 4):
            plan = env.nudge.orchestrator.plan("alice")
            inputs = tuple(sorted((o.agent_id, o.snippet_hash) for o in plan.eligible))
            orders.setdefault((step // 4, inputs), set()).add(plan.choice.order)
            env.clock.advance(minutes=15)
        assert all(len(seen) == 1 for seen in orders.values())
        by_inputs: dict[tuple[object, ...], set[tuple[str, ...]]] = {}
        for (_, inputs), seen in orders.items():
            by_inputs.setdefault(inputs, set()).update(seen)
        assert max(len(seen) for seen in by_inputs.values()) > 1
