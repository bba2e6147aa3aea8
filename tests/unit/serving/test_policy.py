"""The learned policies: posteriors, Bayes-UCB and Thompson sampling with a floor, and the
record a choice leaves in the provenance."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from ml.serving.tip.bandits import BayesUcbPolicy, ThompsonPolicy, make_policy
from ml.serving.tip.learning import explain_credit
from ml.serving.tip.policy import (
    Candidate,
    Credit,
    PolicyConfig,
    StaticPolicy,
    posterior,
)
from ml.serving.tip.policy_record import candidates_from_record, policy_record

CONFIG = PolicyConfig()


def candidate(
    agent_id: str, priority: int = 50, user: Credit | None = None, population: Credit | None = None
) -> Candidate:
    return Candidate(agent_id, priority, user or Credit(), population or Credit())


def mean(params: tuple[float, float]) -> float:
    return params[0] / (params[0] + params[1])


MIXED = [
    candidate("calendar", 80, Credit(served=6, done=1, dismissed=3)),
    candidate("tasks", 40, Credit(served=5, done=3, snoozed=1), Credit(served=90, done=40)),
    candidate("weather", 20, population=Credit(served=50, done=5, dismissed=30, ignored=10)),
    candidate("inbox", 60),
]


def test_without_data_the_posterior_is_the_priority_prior() -> None:
    assert posterior(candidate("a", 0), CONFIG) == pytest.approx((0.3, 1.7))
    assert posterior(candidate("a", 60), CONFIG) == pytest.approx((0.72, 1.28))
    assert posterior(candidate("a", 100), CONFIG) == pytest.approx((1.0, 1.0))


def test_a_users_own_dones_move_them_past_the_prior() -> None:
    low = candidate("low", 20, Credit(served=5, done=4, dismissed=1))
    assert posterior(low, CONFIG) == pytest.approx((4.44, 2.56))
    assert mean(posterior(low, CONFIG)) > mean(posterior(candidate("high", 100), CONFIG))


def test_the_population_prior_is_weighted_and_capped() -> None:
    population = Credit(served=60, done=30, dismissed=10, snoozed=4, ignored=8)
    alpha, beta = posterior(candidate("a", 60, population=population), CONFIG)
    # m_pop = (2 * 0.36 + 30) / (2 + 30 + 10 + 0.5 * 4 + 0.25 * 8); 5 pseudo-observations
    assert (alpha, beta) == pytest.approx((5 * 30.72 / 46, 5 * 15.28 / 46))
    user = Credit(served=6, snoozed=2, ignored=4)  # one failure's worth
    assert posterior(candidate("a", 60, user, population), CONFIG) == pytest.approx(
        (alpha, beta + 2.0)
    )
    crowd = posterior(candidate("a", 60, population=Credit(served=1000, done=1000)), CONFIG)
    assert sum(crowd) == pytest.approx(5.0)
    assert mean(crowd) == pytest.approx(1000.72 / 1002)


def test_lead_probabilities_match_how_often_choose_leads() -> None:
    policy = ThompsonPolicy()
    expected = policy.lead_probabilities(MIXED)
    assert sum(expected.values()) == pytest.approx(1.0)
    rng = np.random.default_rng(7)
    choices = [policy.choose(MIXED, rng) for _ in range(4000)]
    leads = Counter(c.lead for c in choices)
    for agent_id, p in expected.items():
        assert leads[agent_id] / 4000 == pytest.approx(p, abs=0.025)
    assert all(c.propensity == expected[c.lead] for c in choices)


def test_the_integral_agrees_with_sampling_thompson() -> None:
    policy = ThompsonPolicy(PolicyConfig(epsilon=0.0))
    params = np.array(
        [posterior(c, policy.config) for c in sorted(MIXED, key=lambda c: c.agent_id)]
    )
    draws = np.random.default_rng(1).beta(params[:, 0], params[:, 1], size=(400_000, 4))
    sampled = np.bincount(draws.argmax(axis=1), minlength=4) / 400_000
    exact = policy.lead_probabilities(MIXED)
    assert list(exact) == ["calendar", "inbox", "tasks", "weather"]
    assert list(exact.values()) == pytest.approx(sampled.tolist(), abs=0.004)


def test_the_integral_handles_posteriors_piled_up_at_zero() -> None:
    # alpha 0.01 and 0.02 (everyone dismisses both): P(first leads) -> 0.01 / (0.01 + 0.02)
    a = candidate("a", 0, population=Credit(served=148, dismissed=148))
    b = candidate("b", 0, population=Credit(served=73, dismissed=73))
    assert posterior(a, CONFIG)[0] == pytest.approx(0.01)
    assert posterior(b, CONFIG)[0] == pytest.approx(0.02)
    first = ThompsonPolicy(PolicyConfig(epsilon=0.0)).lead_probabilities([a, b])
    assert first["a"] == pytest.approx(1 / 3, abs=0.005)


def test_the_epsilon_floor_keeps_every_lead_possible() -> None:
    strong = candidate("strong", 100, Credit(served=500, done=500))
    weak = [candidate(f"weak{i}", 0, Credit(served=50, dismissed=50)) for i in range(3)]
    policy = ThompsonPolicy(PolicyConfig(epsilon=0.2))
    first = policy.lead_probabilities([strong, *weak])
    for i in range(3):
        assert 0.05 <= first[f"weak{i}"] < 0.0501
    assert first["strong"] == pytest.approx(0.85, abs=0.001)
    rng = np.random.default_rng(3)
    assert min(policy.choose([strong, *weak], rng).propensity for _ in range(300)) >= 0.05


def test_choose_orders_every_candidate_and_keeps_the_top_k() -> None:
    choice = ThompsonPolicy(PolicyConfig(top_k=3)).choose(MIXED, np.random.default_rng(0))
    assert sorted(choice.order) == ["calendar", "inbox", "tasks", "weather"]
    assert choice.chosen == choice.order[:3]
    assert choice.lead == choice.order[0]
    assert choice.policy == "thompson"
    assert sum(choice.lead_probabilities.values()) == pytest.approx(1.0)
    single = ThompsonPolicy().choose(MIXED[:1], np.random.default_rng(0))
    assert (single.order, single.chosen, single.propensity) == (("calendar",), ("calendar",), 1.0)


def test_lead_probabilities_do_not_depend_on_the_candidates_order() -> None:
    policy = ThompsonPolicy()
    assert policy.lead_probabilities(MIXED) == policy.lead_probabilities(MIXED[::-1])


def test_no_candidates_is_an_empty_choice() -> None:
    for policy in (BayesUcbPolicy(), ThompsonPolicy(), StaticPolicy()):
        choice = policy.choose([], np.random.default_rng(0))
        assert (choice.order, choice.chosen, choice.lead, choice.propensity) == ((), (), "", 1.0)
        assert policy.lead_probabilities([]) == {}


def test_an_agent_cannot_be_a_candidate_twice() -> None:
    with pytest.raises(ValueError, match="'tasks' is a candidate twice"):
        ThompsonPolicy().choose([candidate("tasks"), candidate("tasks")], np.random.default_rng(0))


def test_the_version_changes_with_the_config() -> None:
    assert ThompsonPolicy().version == "thompson-1:k2:e0.1:s0.5:i0.25:p5:q2:c1024"
    assert ThompsonPolicy().version == ThompsonPolicy(PolicyConfig()).version
    others = [PolicyConfig(top_k=3), PolicyConfig(epsilon=0.2), PolicyConfig(ignored_weight=0.5)]
    versions = {ThompsonPolicy(c).version for c in [CONFIG, *others]}
    assert len(versions) == 4
    assert StaticPolicy(PolicyConfig(top_k=1)).version == "static-1:k1"
    assert BayesUcbPolicy().version == "bayes-ucb-1:k2:e0.1:u0.8:s0.5:i0.25:p5:q2"
    assert BayesUcbPolicy(PolicyConfig(quantile=0.9)).version != BayesUcbPolicy().version


def test_the_bayes_ucb_index_is_a_normal_upper_quantile_of_the_posterior() -> None:
    policy = BayesUcbPolicy()
    for c in MIXED:
        a, b = posterior(c, CONFIG)
        draws = np.random.default_rng(2).beta(a, b, size=400_000)
        exact = float(np.quantile(draws, 0.8))
        assert policy.index(c) == pytest.approx(exact, abs=0.06)
        assert policy.index(c) > a / (a + b)  # optimism: above the mean
    wide, narrow = candidate("a", 50), candidate("b", 50, Credit(served=90, done=30, dismissed=60))
    assert policy.index(wide) - mean(posterior(wide, CONFIG)) > 0.1
    assert policy.index(narrow) - mean(posterior(narrow, CONFIG)) < 0.05


def test_bayes_ucb_leads_with_the_best_index_and_floors_the_rest() -> None:
    policy = BayesUcbPolicy(PolicyConfig(epsilon=0.2))
    ranked = policy.ranking(MIXED)
    index = [policy.index(c) for c in ranked]
    assert index == sorted(index, reverse=True)
    first = policy.lead_probabilities(MIXED)
    top = ranked[0].agent_id
    assert first == {c.agent_id: 0.05 + 0.8 * (c.agent_id == top) for c in MIXED}
    rng = np.random.default_rng(8)
    leads = Counter(policy.choose(MIXED, rng).lead for _ in range(5000))
    for agent_id, p in first.items():
        assert leads[agent_id] / 5000 == pytest.approx(p, abs=0.02)


def test_bayes_ucb_tries_the_unknown_before_what_the_user_turned_down() -> None:
    turned_down = candidate("news", 90, Credit(served=6, dismissed=5, ignored=1))
    unknown = candidate("habits", 30)
    liked = candidate("tasks", 30, Credit(served=4, done=3, dismissed=1))
    policy = BayesUcbPolicy()
    assert [c.agent_id for c in policy.ranking([turned_down, unknown])] == ["habits", "news"]
    assert policy.ranking([turned_down, unknown, liked])[0].agent_id == "tasks"
    # without any reaction the manifest's priority decides
    assert policy.ranking([candidate("low", 20), candidate("high", 80)])[0].agent_id == "high"


def test_bayes_ucb_ties_go_to_the_smaller_agent_id_and_order_does_not_matter() -> None:
    twins = [candidate("b", 50), candidate("a", 50), candidate("c", 50)]
    policy = BayesUcbPolicy(PolicyConfig(epsilon=0.0))
    assert policy.choose(twins, np.random.default_rng(0)).order == ("a", "b", "c")
    assert policy.lead_probabilities(MIXED) == policy.lead_probabilities(MIXED[::-1])


def test_make_policy_knows_every_name_and_refuses_others() -> None:
    for name, kind in (("bayes-ucb", BayesUcbPolicy), ("thompson", ThompsonPolicy),
                       ("static", StaticPolicy)):  # fmt: skip
        assert isinstance(make_policy(name, CONFIG), kind)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown policy 'greedy'; known: bayes-ucb"):
        make_policy("greedy", CONFIG)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [("top_k", 0), ("epsilon", 1.5), ("snooze_weight", -0.1), ("population_strength", 0.0),
     ("priority_strength", float("nan")), ("cells", 8), ("top_k", True), ("quantile", 0.4),
     ("quantile", 1.0)],
)  # fmt: skip
def test_a_bad_config_is_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"policy {field} must be"):
        PolicyConfig(**{field: value})  # type: ignore[arg-type]


def test_the_static_policy_follows_priority_then_agent_id() -> None:
    candidates = [candidate("b", 50), candidate("c", 90), candidate("a", 50), candidate("d", 10)]
    choice = StaticPolicy().choose(candidates, np.random.default_rng(0))
    assert choice.order == ("c", "a", "b", "d")
    assert (choice.chosen, choice.lead, choice.propensity) == (("c", "a"), "c", 1.0)
    assert choice.lead_probabilities == {"c": 1.0, "a": 0.0, "b": 0.0, "d": 0.0}


def test_the_policy_record_round_trips_through_json() -> None:
    choice = ThompsonPolicy().choose(MIXED, np.random.default_rng(5))
    record = json.loads(json.dumps(policy_record(choice, MIXED)))
    assert record["name"] == "thompson"
    assert record["version"] == ThompsonPolicy().version
    assert (record["lead"], record["propensity"]) == (choice.lead, choice.propensity)
    assert record["chosen"] == list(choice.chosen) and record["order"] == list(choice.order)
    assert record["candidates"][1] == {
        "agent_id": "tasks",
        "priority": 40,
        "user": {"served": 5, "done": 3, "dismissed": 0, "snoozed": 1, "ignored": 0},
        "population": {"served": 90, "done": 40, "dismissed": 0, "snoozed": 0, "ignored": 0},
    }
    assert candidates_from_record(record) == MIXED


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({}, "no 'candidates' list"),
        ({"candidates": [5]}, r"candidates\[0\]: a candidate must be an object"),
        ({"candidates": [{"agent_id": "a"}]}, r"candidates\[0\]: .*priority None"),
        ({"candidates": [{"agent_id": "a", "priority": 101}]}, "not in 0..100"),
        ({"candidates": [{"agent_id": "a", "priority": 5, "user": {"done": -1}}]}, "done"),
        ({"candidates": [{"agent_id": "", "priority": 5}]}, "agent_id"),
    ],
)
def test_a_malformed_record_is_refused(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        candidates_from_record(record)


def test_credit_from_dict_fills_missing_counts_and_refuses_bad_ones() -> None:
    assert Credit.from_dict({"done": 2}) == Credit(done=2)
    assert Credit.from_dict(Credit(1, 2, 3, 4, 5).to_dict()) == Credit(1, 2, 3, 4, 5)
    for bad in ({"done": -1}, {"done": "3"}, {"done": True}, {"done": 1.0}, {"dones": 1}):
        with pytest.raises(ValueError, match="credit"):
            Credit.from_dict(bad)


def test_explain_credit_in_plain_words() -> None:
    tasks = Credit(served=9, done=4, dismissed=1)
    assert explain_credit("Tasks", tasks) == "you completed 4 of the 5 Tasks tips you answered"
    snoozed = Credit(served=3, dismissed=1, snoozed=2)
    assert explain_credit("Tasks", snoozed) == "you completed none of the 3 Tasks tips you answered"
    assert explain_credit("Tasks", Credit(done=1)) == "you completed the one Tasks tip you answered"
    assert explain_credit("Tasks", Credit(served=7, ignored=7)) is None
