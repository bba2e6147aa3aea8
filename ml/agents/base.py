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
ITEMS_MAX = 20
ITEM_REF_MAX_CHARS = 272  # a kind (64), a colon, an external id (200)
ITEM_LABEL_MAX_CHARS = 80
STATE_MAX_BYTES = 4096
"""The default bound of an agent's state; a manifest may lower or raise it (to 64 KiB)."""


@dataclass(frozen=True, slots=True)
class UserView:
    """What an agent may know about the user besides signals."""

    user_id: str
    timezone: ZoneInfo
    preferences: Mapping[str, Any] = field(default_factory=dict)


def signal_ref(signal: Signal) -> str:
    """The stable ref of the item a signal describes: ``<kind>:<external_id>``."""
    return f"{signal.kind}:{signal.external_id}"


@dataclass(frozen=True, slots=True)
class Item:
    """A thing a snippet talks about, which a user can finish, dismiss or snooze.

    ``ref`` is stable across runs: ``<signal kind>:<external_id>`` for an item that comes
    from one signal (``task:task-1``), an agent-defined key otherwise (``habit:guitar``).
    """

    ref: str
    label: str


@dataclass(frozen=True, slots=True)
class AgentInput:
    """Everything one agent run for one user receives.

    ``signals`` never holds a signal whose item is in ``hidden``: the user finished,
    dismissed or snoozed it. An agent whose items are not signals must skip the refs in
    ``hidden`` itself. ``state`` is what the agent returned for this user last time.
    """

    user: UserView
    now: datetime
    signals: Sequence[Signal]
    params: Mapping[str, Any]
    state: Mapping[str, Any] = field(default_factory=dict)
    closed: frozenset[str] = frozenset()
    """Refs of items the user marked done (until a newer signal reopens them)."""
    hidden: frozenset[str] = frozenset()
    """``closed`` and the refs the user dismissed or snoozed for now."""
    param_sources: Mapping[str, str] = field(default_factory=dict)
    """Where each param's value came from: "preference", "inferred" or "default"."""

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
    plain-language tip the orchestrator can serve as is when the LLM fails, about the
    first of ``items`` when there are items. ``because``
    is a clause a person can read after "Because" when a tip cites this agent ("your
    calendar is free 14:00-15:30"). ``facts`` are structured values kept for provenance
    and evaluation.
    """

    text: str
    suggestion: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    because: str | None = None
    items: Sequence[Item] = ()
    """The items the text mentions, most important first: ``suggestion`` is about the first."""


@dataclass(frozen=True, slots=True)
class Result:
    """A run's snippet (or None) with the state to keep for this user's next run.

    Return it instead of a bare Snippet when the agent keeps state; ``state=None`` keeps
    the previous state, ``{}`` clears it.
    """

    snippet: Snippet | None
    state: Mapping[str, Any] | None = None


@runtime_checkable
class Agent(Protocol):
    """What an ``entrypoint:`` class implements. It is instantiated with no arguments."""

    def compute(self, inp: AgentInput) -> Snippet | Result | None:
        """Return this user's snippet, or None when the agent has nothing to say; return a
        Result to keep state for the next run."""
        ...
