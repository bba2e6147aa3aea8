"""The profile as the rest of Nudge sees it: who the user is and what they allowed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Signal:
    """One fact about a user, as ingested (a task, a calendar event, a habit check-in...)."""

    kind: str
    external_id: str
    payload: Mapping[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ActiveContext:
    name: str
    until: datetime | None
    set_at: datetime

    def applies_at(self, now: datetime) -> bool:
        return self.until is None or self.until > now


@dataclass(frozen=True, slots=True)
class Consent:
    key: str
    granted: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: str
    timezone: ZoneInfo
    active: bool
    created_at: datetime
    updated_at: datetime
    preferences: Mapping[str, Any] = field(default_factory=dict)
    context: ActiveContext | None = None
    consents: Mapping[str, Consent] = field(default_factory=dict)

    @property
    def granted(self) -> frozenset[str]:
        return frozenset(k for k, c in self.consents.items() if c.granted)

    def context_at(self, now: datetime) -> str | None:
        """Name of the context in force at ``now``: an expired one no longer silences."""
        if self.context is not None and self.context.applies_at(now):
            return self.context.name
        return None
