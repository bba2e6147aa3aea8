"""Request bodies of the profile API, validated before anything is stored."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
CONSENT_KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
CONTEXT_PATTERN = r"^[a-z0-9_-]{1,64}$"
PREF_KEY_PATTERN = r"^[a-z][a-z0-9_.]{0,63}$"
MAX_PREFS = 100
MAX_PREF_VALUE_BYTES = 2048

UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
ConsentKey = Annotated[str, StringConstraints(pattern=CONSENT_KEY_PATTERN)]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    return name


def _check_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset, e.g. 2026-01-31T18:00:00+01:00")
    return value


def _check_prefs(prefs: dict[str, Any]) -> dict[str, Any]:
    if len(prefs) > MAX_PREFS:
        raise ValueError(f"at most {MAX_PREFS} preferences")
    for key, value in prefs.items():
        if not re.fullmatch(PREF_KEY_PATTERN, key):
            raise ValueError(f"preference key {key!r} must match {PREF_KEY_PATTERN}")
        if len(json.dumps(value)) > MAX_PREF_VALUE_BYTES:
            raise ValueError(f"preference {key!r} is larger than {MAX_PREF_VALUE_BYTES} bytes")
    return prefs


# The pattern is the shape of an IANA name ("UTC", "Europe/Paris", "Etc/GMT+5"); whether
# the zone exists is checked against the tz database.
Timezone = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
    ),
    AfterValidator(_check_timezone),
]
AwareDatetime = Annotated[datetime, AfterValidator(_check_aware)]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: Timezone = Field(examples=["Europe/Paris"])
    active: bool = True


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    granted: bool


class ContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(pattern=CONTEXT_PATTERN)] = Field(examples=["vacation"])
    until: AwareDatetime | None = None


class PrefsIn(BaseModel):
    """The whole preference map: keys not given are removed."""

    model_config = ConfigDict(extra="forbid")
    preferences: Annotated[dict[str, Any], AfterValidator(_check_prefs)] = Field(
        examples=[{"work_start": "09:00", "work_end": "17:30", "tone": "brief"}]
    )


class ConsentOut(BaseModel):
    key: str
    granted: bool
    changed_at: datetime


class ContextOut(BaseModel):
    name: str
    until: datetime | None
    set_at: datetime


class InferredOut(BaseModel):
    value: Any
    confidence: float = Field(description="0 to 1; below the param's floor the value is unused")
    observations: int
    updated_at: datetime


class LearnedOut(BaseModel):
    score: float = Field(description="expected chance the user marks this agent's next tip done")
    served: int
    done: int
    dismissed: int
    snoozed: int
    ignored: int


class ForgottenOut(BaseModel):
    user_id: str
    agents: int = Field(description="how many agents' learned counts were forgotten")


class ProfileOut(BaseModel):
    user_id: str
    timezone: str
    active: bool
    preferences: dict[str, Any]
    context: ContextOut | None
    consents: list[ConsentOut]
    created_at: datetime
    updated_at: datetime
    inferred: dict[str, InferredOut] = Field(
        default_factory=dict, description="values worked out from the user's signals"
    )
    learned: dict[str, LearnedOut] = Field(
        default_factory=dict, description="per agent, what the user's reactions taught Nudge"
    )
