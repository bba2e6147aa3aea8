"""The simulator's stand-ins and arithmetic: the stub model, the oracle, the summary."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import numpy as np
import pytest

from ml.evaluation.simulation.findings import second_half, summary
from ml.evaluation.simulation.oracle import OraclePolicy
from ml.evaluation.simulation.people import population
from ml.evaluation.simulation.run import ArmResult, SimConfig
from ml.evaluation.simulation.stub_llm import StubLLM
from ml.serving.llm.port import LLMError, LLMRequest, Message
from ml.serving.tip.answer import answer_schema
from ml.serving.tip.policy import Candidate, Credit, PolicyConfig


def test_the_stub_phrases_the_first_allowed_snippet_it_was_shown() -> None:
    prompt = (
        '<snippet agent="calendar">\nFree 14:00-15:00. Next: stand-up.\n</snippet>\n'
        '<snippet agent="tasks">\nOpen tasks: 1 overdue. More.\n</snippet>'
    )
    request = LLMRequest(
        alias="tip-generator",
        messages=(Message("system", "s"), Message("user", prompt)),
        json_schema=answer_schema(["tasks", "calendar"]),
    )
    response = asyncio.run(StubLLM().complete(request))
    assert json.loads(response.content) == {
        "tip": "Open tasks: 1 overdue.", "agents": ["tasks"], "rationale": "From tasks.",
    }  # fmt: skip
    with pytest.raises(LLMError):
        asyncio.run(StubLLM().complete(LLMRequest("judge", (), None)))


def test_the_oracle_leads_with_the_users_favourite_and_needs_to_know_who() -> None:
    agents = ["calendar", "habits", "tasks"]
    [user] = population(1, 11, agents, date(2026, 3, 23))
    candidates = [Candidate(a, 50, Credit(), Credit()) for a in agents]
    oracle = OraclePolicy(PolicyConfig())
    with pytest.raises(RuntimeError):
        oracle.choose(candidates, np.random.default_rng(0))
    oracle.at(user, datetime(2026, 3, 23, 9, tzinfo=UTC))
    choice = oracle.choose(candidates, np.random.default_rng(0))
    assert choice.lead == user.taste.favourite and choice.propensity == 1.0
    assert choice.lead_probabilities[user.taste.favourite] == 1.0


def _arm(done: list[int], visits: list[int]) -> ArmResult:
    return ArmResult("learned", visits, done)


def test_the_summary_compares_the_second_halves() -> None:
    arms = {
        "learned": _arm([0, 1, 3, 3], [10, 10, 10, 10]),
        "static": _arm([1, 1, 2, 2], [10, 10, 10, 10]),
        "oracle": _arm([4, 4, 4, 4], [10, 10, 10, 10]),
    }
    assert second_half(arms["learned"]) == 0.3
    document = summary(SimConfig(users=1, days=4, seed=1), "stub", arms)
    assert document["acceptance_ratio"] == 1.5
    assert document["gap_closed"] == 0.5  # (0.3 - 0.2) / (0.4 - 0.2)
    assert document["acceptance_by_day"]["learned"] == [0.0, 0.1, 0.3, 0.3]
    off = document["off_policy"]
    assert (off["n"], off["logged_by"], set(off["targets"])) == (
        0,
        "bayes-ucb",
        {"static", "thompson"},
    )


def test_a_user_is_the_same_whatever_else_the_seed_drew() -> None:
    a = population(3, 5, ["tasks", "habits"], date(2026, 3, 23))
    b = population(3, 5, ["habits", "tasks"], date(2026, 3, 23))
    assert [u.taste for u in a] == [u.taste for u in b]
