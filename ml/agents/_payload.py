"""Tolerant readers for signal payloads, agent params and user preferences.

User data is never trusted: every reader returns None (or the caller's default) for a
missing, mistyped or out-of-range value instead of raising.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ml.agents._format import clip
from ml.agents.base import Signal

# Longer strings are not dates; the bound also keeps the parser's work small.
_MAX_ISO_CHARS = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def payload_of(signal: Signal) -> Mapping[str, Any]:
    payload = signal.payload
    return payload if isinstance(payload, Mapping) else {}


def text(value: object, max_chars: int) -> str | None:
    """Return `value` as one clean line of at most `max_chars`, or None if it is not text."""
    if not isinstance(value, str):
        return None
    cleaned = " ".join(_CONTROL.sub(" ", value).split())
    return clip(cleaned, max_chars) if cleaned else None


def integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def bounded_int(values: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    """Read an integer setting, clamped to [lo, hi]; `default` when absent or mistyped."""
    value = integer(values.get(key)) if isinstance(values, Mapping) else None
    return default if value is None else min(max(value, lo), hi)


def bounded_number(
    values: Mapping[str, Any], key: str, default: float, lo: float, hi: float
) -> float:
    value = number(values.get(key)) if isinstance(values, Mapping) else None
    return default if value is None else min(max(value, lo), hi)


def clock_setting(values: Mapping[str, Any], key: str, default: time) -> time:
    """Read a wall-clock setting written "HH:MM"."""
    raw = values.get(key) if isinstance(values, Mapping) else None
    match = _CLOCK.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        return default
    hour, minute = int(match[1]), int(match[2])
    return time(hour, minute) if hour < 24 and minute < 60 else default


def aware(moment: datetime) -> datetime:
    # A naive timestamp from storage is UTC; reading it as the host's zone would make
    # the output depend on the machine.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def in_zone(moment: datetime, tz: ZoneInfo) -> datetime | None:
    """Convert `moment` to `tz`, or None when either it or its UTC time is out of range."""
    try:
        aware(moment).astimezone(UTC)
        return aware(moment).astimezone(tz)
    except (ValueError, OverflowError):
        return None


def local_datetime(value: object, tz: ZoneInfo) -> datetime | None:
    """Parse an ISO datetime into `tz`; a naive one is the user's local time."""
    if not isinstance(value, str) or len(value) > _MAX_ISO_CHARS:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return in_zone(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz), tz)


def local_date_or_datetime(value: object, tz: ZoneInfo) -> tuple[date, datetime | None] | None:
    """Parse an ISO date ("2026-05-10") or datetime; a datetime also gives its local date."""
    if not isinstance(value, str) or len(value) > _MAX_ISO_CHARS:
        return None
    try:
        return date.fromisoformat(value.strip()), None
    except ValueError:
        pass
    moment = local_datetime(value, tz)
    return None if moment is None else (moment.date(), moment)


def latest_per_id(signals: Iterable[Signal]) -> list[Signal]:
    """Keep the most recent signal per external id: a later signal updates the same item."""
    latest: dict[str, Signal] = {}
    for signal in signals:
        kept = latest.get(signal.external_id)
        if kept is None or aware(signal.occurred_at) >= aware(kept.occurred_at):
            latest[signal.external_id] = signal
    return list(latest.values())
