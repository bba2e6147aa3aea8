"""The learned policies: each ranks the eligible candidates by their Beta posterior of a
done (``policy.posterior``) and, with probability epsilon, orders them uniformly at random
instead, so every candidate's chance to lead is at least epsilon / K.

- ``bayes-ucb`` (the default) ranks by an upper quantile of each posterior (Kaufmann,
  Cappe and Garivier, 2012): an agent that has shown little is ranked as if it were as
  good as it might plausibly be, one that has been tried often by what it has shown. The
  quantile is taken from a normal with the posterior's mean and spread,
  mean + z * sd with z = Phi^-1(quantile): a few microseconds on the plan's path, where
  the exact Beta quantile on a grid cost a few hundred, and the same top agent as the exact
  quantile in 99 % of random candidate sets. The ranking is deterministic given the counts,
  so the lead's propensity is exact and cheap: (1 - epsilon) for the top of the ranking,
  plus epsilon / K for everyone.
- ``thompson`` draws one value from each posterior and ranks by the draws; the lead's
  propensity is P(its draw is the largest), integrated on a grid after the LLM call.

Over the short horizons Nudge learns on (a few dozen tips per user and agent), Thompson
sampling keeps exploring agents the user has already turned down; the quantile index
settles sooner on the user's favourite while still trying what it knows little of.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np

from ml.serving.tip.beta_grid import Floats, first_probabilities, make_grid
from ml.serving.tip.draws import Draws
from ml.serving.tip.policy import (
    Candidate,
    Choice,
    PolicyConfig,
    StaticPolicy,
    by_id,
    make_choice,
    posterior,
)


def _posteriors(ranked: Sequence[Candidate], config: PolicyConfig) -> tuple[Floats, Floats]:
    params = np.array([posterior(c, config) for c in ranked], dtype=np.float64)
    return params[:, 0], params[:, 1]


def _weights(c: PolicyConfig) -> str:
    """The posterior's settings, as every learned policy's version spells them."""
    return (
        f":s{c.snooze_weight:g}:i{c.ignored_weight:g}:p{c.population_strength:g}"
        f":q{c.priority_strength:g}"
    )


def _shuffled(ranked: Sequence[Candidate], rng: Draws) -> list[Candidate]:
    return [ranked[int(i)] for i in rng.permutation(len(ranked))]


class BayesUcbPolicy:
    """Rank by the ``quantile`` of each posterior; epsilon of the time, at random."""

    name = "bayes-ucb"

    def __init__(self, config: PolicyConfig | None = None) -> None:
        c = self.config = config or PolicyConfig()
        self.version = f"bayes-ucb-1:k{c.top_k}:e{c.epsilon:g}:u{c.quantile:g}{_weights(c)}"
        self._z = NormalDist().inv_cdf(c.quantile)

    def index(self, candidate: Candidate) -> float:
        """The posterior's mean plus z standard deviations."""
        a, b = posterior(candidate, self.config)
        mean = a / (a + b)
        return mean + self._z * math.sqrt(mean * (1.0 - mean) / (a + b + 1.0))

    def ranking(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Best index first; equal indices go to the smaller agent_id (the sort is stable)."""
        return sorted(by_id(candidates), key=lambda c: -self.index(c))

    def lead_probabilities(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        return self._probabilities(self.ranking(candidates))

    def _probabilities(self, ranking: Sequence[Candidate]) -> dict[str, float]:
        eps, k = self.config.epsilon, len(ranking)
        top = ranking[0].agent_id if ranking else ""
        return {c.agent_id: (1 - eps) * (c.agent_id == top) + eps / k for c in ranking}

    def choose(self, candidates: Sequence[Candidate], rng: Draws) -> Choice:
        ranking = self.ranking(candidates)
        explore = bool(ranking) and rng.random() < self.config.epsilon
        order = _shuffled(ranking, rng) if explore else ranking
        return make_choice(self, order, lambda: self._probabilities(ranking))


class ThompsonPolicy:
    """Rank by one draw from each posterior; epsilon of the time, at random."""

    name = "thompson"

    def __init__(self, config: PolicyConfig | None = None) -> None:
        c = self.config = config or PolicyConfig()
        self.version = f"thompson-1:k{c.top_k}:e{c.epsilon:g}{_weights(c)}:c{c.cells}"
        self._grid = make_grid(c.cells)

    def lead_probabilities(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        ranked = by_id(candidates)
        if not ranked:
            return {}
        eps, k = self.config.epsilon, len(ranked)
        first = first_probabilities(*_posteriors(ranked, self.config), self._grid).tolist()
        return {c.agent_id: (1 - eps) * p + eps / k for c, p in zip(ranked, first, strict=True)}

    def choose(self, candidates: Sequence[Candidate], rng: Draws) -> Choice:
        ranked = by_id(candidates)
        if not ranked:
            return make_choice(self, [], lambda: {})
        if rng.random() < self.config.epsilon:
            order = _shuffled(ranked, rng)
        else:  # ties in theta go to the smaller agent_id (the sort is stable)
            thetas = [float(rng.beta(*posterior(c, self.config))) for c in ranked]
            order = [ranked[i] for i in sorted(range(len(ranked)), key=lambda i: -thetas[i])]
        return make_choice(self, order, lambda: self.lead_probabilities(ranked))


PolicyName = Literal["bayes-ucb", "thompson", "static"]
POLICY_NAMES: tuple[PolicyName, ...] = ("bayes-ucb", "thompson", "static")


def make_policy(
    name: PolicyName, config: PolicyConfig
) -> BayesUcbPolicy | ThompsonPolicy | StaticPolicy:
    """The policy a setting or a command line names."""
    if name == "bayes-ucb":
        return BayesUcbPolicy(config)
    if name == "thompson":
        return ThompsonPolicy(config)
    if name == "static":
        return StaticPolicy(config)
    raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}")
