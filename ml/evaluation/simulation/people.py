"""Synthetic users: who they are, and how they react to a tip.

A user shown a tip led (cited first) by an agent marks it done with probability
``acceptance(taste, agent, local hour)``. Otherwise they dismiss it with probability
0.5, snooze it for 2-6 hours (uniform, whole hours) with probability 0.2, or ignore it
with probability 0.3. A "nothing to say" tip, or one that cites no agent, is ignored.

Every random draw comes from a stream derived from the run's seed and the user's index,
never from the policy under test: the world from ``"<seed>:<i>:world"``, the taste from
``"<seed>:<i>:taste"`` and each reaction from ``"<seed>:<i>:react:<UTC instant>"``. Keyed
by the instant, a reaction does not depend on how many tips came before, so the learned,
static and oracle runs meet the same draws in the same situation (common random numbers:
the comparison measures the policies, not the luck).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from ml.evaluation.simulation.tastes import Taste, acceptance, draw_tastes
from ml.evaluation.simulation.world import World

ReactionKind = Literal["done", "dismiss", "snooze", "ignore"]
DISMISS_PROBABILITY = 0.5
SNOOZE_PROBABILITY = 0.2
IGNORE_PROBABILITY = 0.3
SNOOZE_HOURS = (2, 6)
# Users take these zones in turn, so even a small population has both northern and
# southern daylight-saving changes, and a zone without any.
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Europe/London",
)


@dataclass(frozen=True)
class Reaction:
    kind: ReactionKind
    snooze_hours: int | None = None


def react(
    taste: Taste,
    *,
    agent_id: str | None,
    local_hour: int,
    is_fallback_nothing: bool,
    rng: random.Random,
) -> Reaction:
    """How the user reacts to a tip led by ``agent_id``, seen at ``local_hour``."""
    if is_fallback_nothing or agent_id is None:
        return Reaction("ignore")
    # Always three draws, so the same stream gives the same answer in the same situation.
    accept, choice, hours = rng.random(), rng.random(), rng.randint(*SNOOZE_HOURS)
    if accept < acceptance(taste, agent_id, local_hour):
        return Reaction("done")
    if choice < DISMISS_PROBABILITY:
        return Reaction("dismiss")
    if choice < DISMISS_PROBABILITY + SNOOZE_PROBABILITY:
        return Reaction("snooze", hours)
    return Reaction("ignore")


@dataclass(frozen=True, eq=False)
class SimUser:
    index: int
    user_id: str
    timezone: ZoneInfo
    taste: Taste
    world: World
    seed: int

    def local_hour(self, at: datetime) -> int:
        return _utc(at).astimezone(self.timezone).hour

    def reaction_rng(self, at: datetime) -> random.Random:
        """The draws for a tip seen at ``at``: the same for every policy."""
        return random.Random(f"{self.seed}:{self.index}:react:{_utc(at).isoformat()}")

    def react(self, *, agent_id: str | None, at: datetime, is_fallback_nothing: bool) -> Reaction:
        """How this user reacts to a tip led by ``agent_id`` that they see at ``at``."""
        return react(
            self.taste,
            agent_id=agent_id,
            local_hour=self.local_hour(at),
            is_fallback_nothing=is_fallback_nothing,
            rng=self.reaction_rng(at),
        )


def population(n: int, seed: int, agent_ids: Sequence[str], start: date) -> list[SimUser]:
    """``n`` users whose tastes and worlds depend on ``seed`` and their index only."""
    users = []
    for i in range(n):
        user_id = f"sim-{i:04d}"
        timezone = ZoneInfo(ZONES[i % len(ZONES)])
        taste = draw_tastes(agent_ids, random.Random(f"{seed}:{i}:taste"))
        world = World(user_id, timezone, start, random.Random(f"{seed}:{i}:world"))
        users.append(SimUser(i, user_id, timezone, taste, world, seed))
    return users


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a reaction needs an aware datetime")
    return at.astimezone(UTC)
