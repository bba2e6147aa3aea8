"""How often another policy's tips would have been done, estimated from the logged ones.

Each logged tip carries the lead the serving policy chose and its propensity (the
probability that policy gave the lead). Reweighting each reward by
w = P_target(lead | candidates) / propensity gives inverse propensity scoring (IPS,
unbiased) and its self-normalised form (SNIPS, lower variance, slightly biased).

Both have a high variance when the target often picks a lead the logging policy rarely
did (a weight of 1/propensity can reach K/epsilon). The doubly robust estimate (DR)
starts from a model of the reward, the posterior mean of each candidate computed from the
counts the policy saw, and corrects it with the importance-weighted residual of the
logged lead: unbiased when either the propensities or the model are right, and with far
less variance than IPS when the model is roughly right.

Each estimate comes with its standard error (the spread of its per-tip terms; for SNIPS
the delta method), so a reader can tell a close estimate from a lucky one: with a logging
policy that explores with epsilon = 0.1 among five candidates, a target that leads with an
agent the logger has learned to avoid sees that agent's tips weighted by 50, and a few
thousand tips give an effective n of a few dozen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ml.serving.tip.policy import Candidate, Policy, posterior


@dataclass(frozen=True, slots=True)
class Logged:
    """One served tip: its lead, that lead's propensity, and 1.0 if it was done else 0.0."""

    lead: str
    propensity: float
    reward: float
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class Estimate:
    ips: float
    snips: float
    dr: float
    n: int
    effective_n: float  # Kish: (sum w)^2 / sum w^2; far below n means a few logs dominate
    on_policy_mean: float  # the logging policy's own mean reward
    ips_se: float = 0.0
    snips_se: float = 0.0
    dr_se: float = 0.0


def _weight(target: Policy, index: int, log: Logged) -> float:
    if not (0.0 < log.propensity <= 1.0):
        raise ValueError(f"logs[{index}]: propensity {log.propensity!r} is not in (0, 1]")
    if not math.isfinite(log.reward):
        raise ValueError(f"logs[{index}]: reward {log.reward!r} is not a number")
    probabilities = target.lead_probabilities(log.candidates)
    if log.lead not in probabilities:
        raise ValueError(f"logs[{index}]: lead {log.lead!r} is not one of its candidates")
    return probabilities[log.lead] / log.propensity


def estimate(target: Policy, logs: Sequence[Logged]) -> Estimate:
    """IPS and SNIPS of ``target``'s acceptance; all zeros (n = 0) when there are no logs."""
    if not logs:
        return Estimate(0.0, 0.0, 0.0, 0, 0.0, 0.0)
    weights = np.array([_weight(target, i, log) for i, log in enumerate(logs)])
    rewards = np.array([log.reward for log in logs], dtype=np.float64)
    total, squares = float(weights.sum()), float((weights**2).sum())
    terms = weights * rewards
    snips = float(terms.sum()) / total if total > 0 else 0.0
    robust = np.array([_doubly_robust(target, g, w) for g, w in zip(logs, weights, strict=True)])
    spread = float(np.sqrt((weights**2 * (rewards - snips) ** 2).sum()))
    return Estimate(
        ips=float(terms.mean()),
        snips=snips,
        dr=float(robust.mean()),
        n=len(logs),
        effective_n=total**2 / squares if squares > 0 else 0.0,
        on_policy_mean=float(rewards.mean()),
        ips_se=_stderr(terms),
        snips_se=spread / total if total > 0 else 0.0,
        dr_se=_stderr(robust),
    )


def _stderr(terms: npt.NDArray[np.float64]) -> float:
    """The standard error of the mean of ``terms``; 0 for fewer than two."""
    return float(terms.std(ddof=1) / math.sqrt(len(terms))) if len(terms) > 1 else 0.0


def _doubly_robust(target: Policy, log: Logged, weight: float) -> float:
    """The model's value of the target's choice, plus the weighted surprise of the log."""
    model = {}
    for candidate in log.candidates:
        alpha, beta = posterior(candidate, target.config)
        model[candidate.agent_id] = alpha / (alpha + beta)
    chances = target.lead_probabilities(log.candidates)
    direct = sum(p * model[agent_id] for agent_id, p in chances.items())
    return direct + weight * (log.reward - model[log.lead])
