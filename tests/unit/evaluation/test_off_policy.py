"""Off-policy estimates of a policy's acceptance from logged tips and their propensities."""

from __future__ import annotations

import numpy as np
import pytest

from ml.evaluation.off_policy import Logged, estimate
from ml.serving.tip.bandits import ThompsonPolicy
from ml.serving.tip.policy import Candidate, Credit, PolicyConfig, StaticPolicy

DONE_RATE = {"alerts": 0.2, "budget": 0.5, "calendar": 0.8}


def candidates(priorities: dict[str, int]) -> tuple[Candidate, ...]:
    return tuple(Candidate(a, p, Credit(), Credit()) for a, p in priorities.items())


# The static policy leads with calendar in the morning and with alerts in the evening.
MORNING = candidates({"alerts": 10, "budget": 50, "calendar": 90})
EVENING = candidates({"alerts": 90, "budget": 50, "calendar": 10})


def uniform_logs(n: int, seed: int) -> list[Logged]:
    """A logging policy that leads with any candidate at random; morning 70% of the time."""
    rng = np.random.default_rng(seed)
    logs = []
    for _ in range(n):
        shown = MORNING if rng.random() < 0.7 else EVENING
        lead = shown[int(rng.integers(3))].agent_id
        done = rng.random() < DONE_RATE[lead]
        logs.append(Logged(lead, 1 / 3, 1.0 if done else 0.0, shown))
    return logs


def test_ips_and_snips_recover_a_deterministic_targets_acceptance() -> None:
    logs = uniform_logs(30_000, seed=11)
    result = estimate(StaticPolicy(), logs)
    true_value = 0.7 * DONE_RATE["calendar"] + 0.3 * DONE_RATE["alerts"]  # 0.62
    assert result.ips == pytest.approx(true_value, rel=0.03)
    assert result.snips == pytest.approx(true_value, rel=0.03)
    assert result.on_policy_mean == pytest.approx(0.5, abs=0.01)  # the uniform logger's own
    matches = sum(
        log.lead == ("calendar" if log.candidates is MORNING else "alerts") for log in logs
    )
    assert result.n == 30_000
    assert result.effective_n == pytest.approx(matches)  # weights are 3 or 0


def test_ips_corrects_a_skewed_logging_policy() -> None:
    logger = ThompsonPolicy(PolicyConfig(epsilon=0.3))
    shown = candidates({"alerts": 100, "budget": 0, "calendar": 0})  # the logger favours alerts
    rng = np.random.default_rng(4)
    logs = []
    for _ in range(6000):
        choice = logger.choose(shown, rng)
        done = rng.random() < DONE_RATE[choice.lead]
        logs.append(Logged(choice.lead, choice.propensity, 1.0 if done else 0.0, shown))
    target = StaticPolicy()  # alerts, budget, calendar at 100, 0, 0: leads with alerts
    favoured = estimate(target, logs)
    assert favoured.snips == pytest.approx(DONE_RATE["alerts"], abs=0.02)
    calendar_first = candidates({"alerts": 0, "budget": 0, "calendar": 100})
    relabelled = [Logged(g.lead, g.propensity, g.reward, calendar_first) for g in logs]
    # The same choices (and the propensities they were made with) scored for a target that
    # leads with calendar, which the logger seldom did: fewer, heavier weights.
    rare = estimate(target, relabelled)
    assert rare.ips == pytest.approx(DONE_RATE["calendar"], abs=0.08)
    assert rare.snips == pytest.approx(DONE_RATE["calendar"], abs=0.05)
    assert rare.effective_n < favoured.effective_n


def test_the_logging_policy_itself_scores_its_own_mean() -> None:
    policy = ThompsonPolicy()
    shown = (
        Candidate("alerts", 30, Credit(served=4, dismissed=3), Credit()),
        Candidate("budget", 60, Credit(), Credit(served=40, done=20, dismissed=10)),
        Candidate("calendar", 80, Credit(served=3, done=2), Credit()),
    )
    rng = np.random.default_rng(9)
    logs = []
    for _ in range(300):
        choice = policy.choose(shown, rng)
        done = rng.random() < DONE_RATE[choice.lead]
        logs.append(Logged(choice.lead, choice.propensity, 1.0 if done else 0.0, shown[::-1]))
    result = estimate(policy, logs)
    assert result.snips == result.on_policy_mean
    assert result.ips == pytest.approx(result.on_policy_mean, abs=1e-12)
    assert result.effective_n == pytest.approx(300)


@pytest.mark.parametrize("propensity", [0.0, -0.5, 1.5, float("nan")])
def test_a_propensity_outside_zero_one_is_refused_by_index(propensity: float) -> None:
    logs = [Logged("alerts", 1.0, 1.0, MORNING), Logged("alerts", propensity, 1.0, MORNING)]
    with pytest.raises(ValueError, match=r"logs\[1\]: propensity"):
        estimate(StaticPolicy(), logs)


def test_a_lead_outside_its_candidates_is_refused() -> None:
    with pytest.raises(ValueError, match=r"logs\[0\]: lead 'news' is not one of its candidates"):
        estimate(StaticPolicy(), [Logged("news", 0.5, 1.0, MORNING)])


def test_no_logs_is_an_empty_estimate() -> None:
    result = estimate(StaticPolicy(), [])
    assert (result.n, result.ips, result.snips, result.effective_n) == (0, 0.0, 0.0, 0.0)


def test_a_target_that_never_agrees_scores_zero() -> None:
    logs = [Logged("budget", 1 / 3, 1.0, MORNING), Logged("alerts", 1 / 3, 1.0, MORNING)]
    result = estimate(StaticPolicy(), logs)  # static always leads with calendar here
    assert (result.ips, result.snips, result.effective_n) == (0.0, 0.0, 0.0)
    assert result.on_policy_mean == 1.0


def test_the_standard_errors_match_the_spread_of_repeated_estimates() -> None:
    runs = [estimate(StaticPolicy(), uniform_logs(400, seed=100 + i)) for i in range(150)]
    for kind in ("ips", "snips", "dr"):
        values = np.array([getattr(r, kind) for r in runs])
        errors = np.array([getattr(r, f"{kind}_se") for r in runs])
        assert errors.mean() == pytest.approx(values.std(ddof=1), rel=0.2), kind
        covered = np.abs(values - 0.62) <= 1.96 * errors
        assert covered.mean() > 0.88, kind  # a 95 % interval, give or take the bias of SNIPS
