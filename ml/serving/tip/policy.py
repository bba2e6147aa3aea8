"""Which eligible agents' snippets go into the prompt: the policy selects, the LLM phrases.

Each candidate's chance that its tip is done is Beta(alpha, beta), built in three steps
(w_s = snooze_weight, w_i = ignored_weight, q = priority_strength, P = population_strength):

    successes S = done                 failures F = dismissed + w_s * snoozed + w_i * ignored
    m0    = 0.15 + 0.35 * priority / 100                    (the manifest's prior mean)
    m_pop = (q * m0 + S_pop) / (q + S_pop + F_pop)          (the population's mean)
    n     = min(P, q + S_pop + F_pop)                       (the prior's pseudo-observations)
    alpha = n * m_pop + S_user          beta = n * (1 - m_pop) + F_user

A new user starts from what works for everyone, then their own reactions count in full;
alpha, beta > 0 always (0.15 <= m0 <= 0.5, q and P > 0). This module holds the posterior,
what every policy answers (a ``Choice``) and the manifest's static rule; the learned
policies that rank by the posterior are in ``bandits``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache
from itertools import pairwise
from typing import Any, Protocol

from ml.serving.tip.draws import Draws


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_COUNTS = ("served", "done", "dismissed", "snoozed", "ignored")


@dataclass(frozen=True, slots=True)
class Credit:
    """How one user (or everyone) reacted to an agent's tips."""

    served: int = 0
    done: int = 0
    dismissed: int = 0
    snoozed: int = 0
    ignored: int = 0

    def __post_init__(self) -> None:
        for name in _COUNTS:  # on the tip path: kept cheap (no fields(), no isinstance)
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"credit {name} must be a count (an int >= 0), got {value!r}")

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Credit:
        """Missing counts are 0; unknown keys and non-counts are errors."""
        if unknown := sorted(set(data) - {f.name for f in fields(cls)}):
            raise ValueError(f"credit has unknown keys {unknown}")
        return cls(**{k: data.get(k, 0) for k in (f.name for f in fields(cls))})


@dataclass(frozen=True, slots=True)
class Candidate:
    agent_id: str
    priority: int
    user: Credit
    population: Credit

    def __post_init__(self) -> None:
        if not isinstance(self.agent_id, str) or not self.agent_id:
            raise ValueError(f"candidate agent_id must be a non-empty string: {self.agent_id!r}")
        if not _is_count(self.priority) or self.priority > 100:
            raise ValueError(f"candidate {self.agent_id}: priority {self.priority!r} not in 0..100")

    def to_dict(self) -> dict[str, Any]:
        credits = {"user": self.user.to_dict(), "population": self.population.to_dict()}
        return {"agent_id": self.agent_id, "priority": self.priority, **credits}

    @classmethod
    def from_dict(cls, data: Any) -> Candidate:
        if not isinstance(data, Mapping):
            raise ValueError("a candidate must be an object")
        user, population = data.get("user", {}), data.get("population", {})
        if not isinstance(user, Mapping) or not isinstance(population, Mapping):
            raise ValueError("a candidate's 'user' and 'population' must be objects")
        got: dict[str, Any] = {k: data.get(k) for k in ("agent_id", "priority")}
        return cls(**got, user=Credit.from_dict(user), population=Credit.from_dict(population))


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    top_k: int = 2
    epsilon: float = 0.1
    snooze_weight: float = 0.5
    ignored_weight: float = 0.25
    population_strength: float = 5.0  # most pseudo-observations the population prior gives
    priority_strength: float = 2.0
    quantile: float = 0.8  # bayes-ucb ranks each candidate by (about) this posterior quantile
    cells: int = 1024  # resolution of thompson's lead-probability integral over [0, 1]

    def __post_init__(self) -> None:
        for name, least in (("top_k", 1), ("cells", 16)):
            if not _is_count(value := getattr(self, name)) or value < least:
                raise ValueError(f"policy {name} must be an int >= {least}, got {value!r}")
        if not 0.5 <= self.quantile < 1.0:
            raise ValueError(f"policy quantile must be in [0.5, 1), got {self.quantile!r}")
        for name in ("epsilon", "snooze_weight", "ignored_weight"):
            if not 0.0 <= (value := getattr(self, name)) <= 1.0:
                raise ValueError(f"policy {name} must be in [0, 1], got {value!r}")
        for name in ("population_strength", "priority_strength"):
            if not 0.0 < (value := getattr(self, name)) < math.inf:
                raise ValueError(f"policy {name} must be a finite number > 0, got {value!r}")


def _weighted(c: Credit, w: PolicyConfig) -> tuple[float, float]:
    """Successes and (weighted) failures."""
    return c.done, c.dismissed + w.snooze_weight * c.snoozed + w.ignored_weight * c.ignored


def posterior(candidate: Candidate, config: PolicyConfig) -> tuple[float, float]:
    """Beta(alpha, beta) of the candidate's chance of a done (formula in the module doc)."""
    q = config.priority_strength
    m0 = 0.15 + 0.35 * candidate.priority / 100
    pop_s, pop_f = _weighted(candidate.population, config)
    m_pop = (q * m0 + pop_s) / (q + pop_s + pop_f)
    n = min(config.population_strength, q + pop_s + pop_f)
    s, f = _weighted(candidate.user, config)
    return n * m_pop + s, n * (1.0 - m_pop) + f


@dataclass(frozen=True, slots=True)
class Choice:
    order: tuple[str, ...]  # every candidate, best first
    chosen: tuple[str, ...]  # order[:top_k]: the snippets that go into the prompt
    lead: str  # order[0], "" when there were no candidates
    policy: str
    version: str
    probabilities: Callable[[], Mapping[str, float]]
    """P(each candidate leads), computed when first asked: after the LLM call, not before."""

    @property
    def lead_probabilities(self) -> Mapping[str, float]:
        return self.probabilities()

    @property
    def propensity(self) -> float:
        """P(lead is first) under this policy, in (0, 1]; 1 with no candidates."""
        return self.probabilities()[self.lead] if self.lead else 1.0


class Policy(Protocol):
    """What the orchestrator and off-policy evaluation need of a policy."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> PolicyConfig: ...

    @property
    def version(self) -> str: ...

    def choose(self, candidates: Sequence[Candidate], rng: Draws) -> Choice:
        """Order the candidates; with none, an empty order, lead "" and propensity 1."""

    def lead_probabilities(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        """P(each candidate is first): deterministic, for off-policy evaluation."""


def by_id(candidates: Sequence[Candidate]) -> list[Candidate]:
    ranked = sorted(candidates, key=lambda c: c.agent_id)
    for a, b in pairwise(ranked):
        if a.agent_id == b.agent_id:
            raise ValueError(f"agent {a.agent_id!r} is a candidate twice")
    return ranked


class StaticPolicy:
    """The manifest's rule: highest priority first, then agent_id; no exploration."""

    name = "static"

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self.version = f"static-1:k{self.config.top_k}"

    def lead_probabilities(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        ordered = sorted(by_id(candidates), key=lambda c: -c.priority)
        return {c.agent_id: 1.0 if i == 0 else 0.0 for i, c in enumerate(ordered)}

    def choose(self, candidates: Sequence[Candidate], rng: Draws) -> Choice:
        ordered = sorted(by_id(candidates), key=lambda c: -c.priority)  # stable: then by id
        return make_choice(self, ordered, lambda: self.lead_probabilities(ordered))


def make_choice(
    by: Policy,
    ranked: Sequence[Candidate],
    probabilities: Callable[[], dict[str, float]],
) -> Choice:
    """``ranked`` as a choice; with no candidate, the caller serves a "nothing to say" tip."""
    order = tuple(c.agent_id for c in ranked)
    lead = order[0] if order else ""
    return Choice(order, order[: by.config.top_k], lead, by.name, by.version, cache(probabilities))
