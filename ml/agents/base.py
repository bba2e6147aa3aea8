"""The contract between the precompute sweep and an agent.

An agent turns one user's signals into at most one prompt snippet. It is given the
clock as an argument and must not read anything else (no database, no network, no
environment), so the same input always gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

# A signal is the profile's; agents read it as part of their contract.
from nudge_profile.model import Signal as Signal

SNIPPET_MAX_CHARS = 600
SUGGESTION_MAX_CHARS = 240
BECAUSE_MAX_CHARS = 160
FACTS_MAX_BYTES = 4096


@dataclass(frozen=True, slots=True)
class UserView:
    """What an agent may know about the user besides signals."""

    user_id: str
    timezone: ZoneInfo
    preferences: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgentInput:
    """Everything one agent run for one user receives."""

    user: UserView
    now: datetime
    signals: Sequence[Signal]
    params: Mapping[str, Any]

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.user.timezone)

    @property
    def today(self) -> date:
        return self.local_now.date()

    def of_kind(self, kind: str) -> list[Signal]:
        return [s for s in self.signals if s.kind == kind]


@dataclass(frozen=True, slots=True)
class Snippet:
    """An agent's output for one user.

    ``text`` goes into the orchestrator prompt as data. ``suggestion`` is a complete,
    plain-language tip the orchestrator can serve as is when the LLM fails. ``because``
    is a clause a person can read after "Because" when a tip cites this agent ("your
    calendar is free 14:00-15:30"). ``facts`` are structured values kept for provenance
    and evaluation.
    """

    text: str
    suggestion: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    because: str | None = None


@runtime_checkable
class Agent(Protocol):
    """What an ``entrypoint:`` class implements. It is instantiated with no arguments."""

    def compute(self, inp: AgentInput) -> Snippet | None:
        """Return this user's snippet, or None when the agent has nothing to say."""
        ...
