"""What the policy learned, as people read it: a score per agent for a user, and each
agent's answered rates over everyone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml.registry.registry import Registry
from ml.serving.tip.policy import Candidate, Credit, PolicyConfig, posterior

_OUTCOMES = ("served", "done", "dismissed", "snoozed", "ignored")


def _credit(counts: Mapping[str, int] | None) -> Credit:
    counts = counts or {}
    return Credit(*(max(0, int(counts.get(name, 0))) for name in _OUTCOMES))


def learned_view(
    user: Mapping[str, Mapping[str, int]],
    population: Mapping[str, Mapping[str, int]],
    registry: Registry,
    config: PolicyConfig,
) -> dict[str, dict[str, Any]]:
    """Per agent: the user's counts and ``score``, the policy's expected chance that the
    user marks this agent's next tip done (the prior from priority and everyone's
    reactions, moved by the user's own)."""
    view: dict[str, dict[str, Any]] = {}
    for agent_id in sorted(set(registry.agents) | set(user)):
        agent = registry.agents.get(agent_id)
        mine = _credit(user.get(agent_id))
        candidate = Candidate(
            agent_id, agent.priority if agent else 0, mine, _credit(population.get(agent_id))
        )
        alpha, beta = posterior(candidate, config)
        view[agent_id] = {"score": round(alpha / (alpha + beta), 4), **mine.to_dict()}
    return view


def reaction_rates(counts: Mapping[str, int] | None) -> dict[str, Any]:
    """Counts of an agent's tips over everyone, and each reaction's share of those served."""
    credit = _credit(counts).to_dict()
    served = credit["served"]
    rates = {
        name: round(credit[name] / served, 4) if served else None
        for name in ("done", "dismissed", "snoozed", "ignored")
    }
    return {**credit, "rates": rates}


def explain_credit(agent_name: str, credit: Credit) -> str | None:
    """The user's own record with an agent, in plain words; None if they never answered."""
    answered = credit.done + credit.dismissed + credit.snoozed
    if answered == 0:
        return None
    if answered == 1:
        verb = "completed" if credit.done else "did not complete"
        return f"you {verb} the one {agent_name} tip you answered"
    done = "none" if credit.done == 0 else str(credit.done)
    return f"you completed {done} of the {answered} {agent_name} tips you answered"
