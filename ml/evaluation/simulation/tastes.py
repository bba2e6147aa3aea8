"""A synthetic user's hidden taste: which agents' tips they act on, and when.

The distribution ``draw_tastes`` samples from, one independent draw per user:

- ``favourite``: uniform over the distinct agent ids, so every agent is equally likely to
  be a user's favourite (the ids are sorted first: the draw depends on the set of agents,
  not on the order the caller lists them in);
- ``acceptance[favourite]`` ~ U(0.55, 0.85): the probability the user marks a tip led by
  their favourite agent done, at their best time of day;
- ``acceptance[other]`` ~ U(0.03, 0.20), independently for every other agent;
- ``peak``: uniform over the three dayparts, morning (05:00-11:59 local), afternoon
  (12:00-16:59) and evening (17:00-04:59, the night belongs to the evening);
- ``off_peak_factor`` ~ U(0.4, 0.8): outside the peak daypart every acceptance is
  multiplied by it.

An agent the taste does not know (not among the ids drawn for) is never accepted.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Daypart = Literal["morning", "afternoon", "evening"]
DAYPARTS: tuple[Daypart, ...] = ("morning", "afternoon", "evening")
FAVOURITE_ACCEPTANCE = (0.55, 0.85)
OTHER_ACCEPTANCE = (0.03, 0.20)
OFF_PEAK_FACTOR = (0.4, 0.8)
_MORNING_FROM, _AFTERNOON_FROM, _EVENING_FROM = 5, 12, 17


@dataclass(frozen=True)
class Taste:
    favourite: str
    acceptance: Mapping[str, float]
    """Per agent id, the probability of marking its tip done in the peak daypart."""
    peak: Daypart
    off_peak_factor: float


def daypart(local_hour: int) -> Daypart:
    """The daypart a local hour (0-23) falls in."""
    if not 0 <= local_hour <= 23:
        raise ValueError(f"local_hour must be 0-23, got {local_hour}")
    if _MORNING_FROM <= local_hour < _AFTERNOON_FROM:
        return "morning"
    if _AFTERNOON_FROM <= local_hour < _EVENING_FROM:
        return "afternoon"
    return "evening"


def draw_tastes(agent_ids: Sequence[str], rng: random.Random) -> Taste:
    """Draw one user's taste from the distribution in the module docstring."""
    ids = sorted(set(agent_ids))
    if not ids:
        raise ValueError("draw_tastes needs at least one agent id")
    favourite = rng.choice(ids)
    acceptance = {}
    for agent_id in ids:
        low, high = FAVOURITE_ACCEPTANCE if agent_id == favourite else OTHER_ACCEPTANCE
        acceptance[agent_id] = rng.uniform(low, high)
    peak = rng.choice(DAYPARTS)
    return Taste(favourite, acceptance, peak, rng.uniform(*OFF_PEAK_FACTOR))


def acceptance(taste: Taste, agent_id: str, local_hour: int) -> float:
    """The probability the user marks a tip led by ``agent_id`` done at ``local_hour``."""
    base = taste.acceptance.get(agent_id, 0.0)
    return base if daypart(local_hour) == taste.peak else base * taste.off_peak_factor
