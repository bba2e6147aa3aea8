"""Which agents' outputs may reach a user's tip right now, and why the others may not.

Pure functions of their arguments: no clock, no store, no registry access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol


class Exclusion(StrEnum):
    DISABLED = "disabled"
    MISSING_CONSENT = "missing_consent"
    SILENCED = "silenced_by_context"
    NO_OUTPUT = "no_output"
    OLD_VERSION = "old_version"
    EXPIRED = "expired"
    SNOOZED = "snoozed"
    DISMISSED = "dismissed"
    DONE = "done"
    ITEM_HIDDEN = "item_hidden"


class AgentRules(Protocol):
    """What eligibility reads of an agent; a Manifest and a RegisteredAgent both provide it."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def consents(self) -> Sequence[str]: ...
    @property
    def silenced_in(self) -> Sequence[str]: ...
    @property
    def ttl(self) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class OutputRef:
    """The stored output of one agent for one user, without its content."""

    agent_id: str
    agent_version: int
    snippet_hash: str
    computed_at: datetime
    expires_at: datetime
    items: tuple[str, ...] = ()
    """The refs of the items the snippet mentions."""


@dataclass(frozen=True, slots=True)
class Suppression:
    """A user's snooze, dismissal or done mark; ``until=None`` means it does not lapse."""

    agent_id: str
    kind: Literal["snoozed", "dismissed", "done"]
    snippet_hash: str | None
    until: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    agent_id: str
    eligible: bool
    reason: Exclusion | None
    detail: str
    consents: tuple[str, ...]
    """The manifest's consent keys the user has granted (all of them when eligible)."""
    missing: tuple[str, ...] = ()
    """The manifest's consent keys the user has not granted."""


def candidates(
    agents: Sequence[AgentRules], *, granted: frozenset[str], active_context: str | None
) -> list[str]:
    """Return the ids whose outputs are worth reading: enabled, consented, not silenced."""
    return [agent.id for agent in agents if _before_output(agent, granted, active_context) is None]


def decide(
    agents: Sequence[AgentRules],
    *,
    granted: frozenset[str],
    active_context: str | None,
    outputs: Mapping[str, OutputRef],
    suppressions: Sequence[Suppression],
    now: datetime,
    hidden_items: frozenset[str] = frozenset(),
) -> list[Decision]:
    """Decide every agent, in the given order, naming the first rule that excludes it.

    The rules, in order: disabled; a consent not granted (all missing keys named);
    silenced by the active context; no stored output; output of another version than
    the manifest's; output expired (its expiry or computed_at + the manifest's ttl,
    whichever is earlier); it mentions an item the user finished, dismissed or snoozed
    (``hidden_items``: the agent's next run leaves it out); snoozed; dismissed or done
    for this very snippet (a new snippet from the agent is served again).
    """
    decisions = []
    for agent in agents:
        admitted = tuple(key for key in agent.consents if key in granted)
        reason = _before_output(agent, granted, active_context) or _after_output(
            agent, outputs.get(agent.id), suppressions, now, hidden_items
        )
        decisions.append(
            Decision(
                agent_id=agent.id,
                eligible=reason is None,
                reason=None if reason is None else reason[0],
                detail="eligible" if reason is None else reason[1],
                consents=admitted,
                missing=tuple(key for key in agent.consents if key not in granted),
            )
        )
    return decisions


_Reason = tuple[Exclusion, str]


def _before_output(
    agent: AgentRules, granted: frozenset[str], active_context: str | None
) -> _Reason | None:
    if not agent.enabled:
        return Exclusion.DISABLED, "disabled in its manifest"
    missing = [key for key in agent.consents if key not in granted]
    if missing:
        noun = "consent" if len(missing) == 1 else "consents"
        return Exclusion.MISSING_CONSENT, f"{noun} {', '.join(missing)} not granted"
    if active_context is not None and active_context in agent.silenced_in:
        return Exclusion.SILENCED, f"silenced in {active_context}"
    return None


def _after_output(
    agent: AgentRules,
    output: OutputRef | None,
    suppressions: Sequence[Suppression],
    now: datetime,
    hidden_items: frozenset[str] = frozenset(),
) -> _Reason | None:
    if output is None:
        return Exclusion.NO_OUTPUT, "no stored output"
    if output.agent_version != agent.version:
        return (
            Exclusion.OLD_VERSION,
            f"output is of version {output.agent_version}, manifest is {agent.version}",
        )
    expires_at = min(output.expires_at, output.computed_at + agent.ttl)
    if expires_at <= now:
        return Exclusion.EXPIRED, f"output expired at {expires_at.isoformat()}"
    hidden = [ref for ref in output.items if ref in hidden_items]
    if hidden:
        return Exclusion.ITEM_HIDDEN, f"mentions {hidden[0]}, which you finished or hid"
    active = [
        item
        for item in suppressions
        if item.agent_id == agent.id and (item.until is None or item.until > now)
    ]
    for item in active:
        if item.kind == "snoozed":
            until = "further notice" if item.until is None else item.until.isoformat()
            return Exclusion.SNOOZED, f"snoozed until {until}"
    for kind, exclusion in (("dismissed", Exclusion.DISMISSED), ("done", Exclusion.DONE)):
        if any(item.kind == kind and item.snippet_hash == output.snippet_hash for item in active):
            return exclusion, f"this snippet was marked {kind}"
    return None
