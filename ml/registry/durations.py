"""Durations as manifest authors write them: ``30s``, ``15m``, ``1h30m``, ``2d``, ``500ms``."""

from __future__ import annotations

import re
from datetime import timedelta

# Units in the only order they may appear; each at most once. The lookahead keeps the
# empty string out, so the same pattern can go into the JSON schema unchanged.
DURATION_PATTERN = r"^(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
DURATION_EXAMPLES = "15m, 1h30m, 45s"

_DURATION = re.compile(DURATION_PATTERN)
_UNITS: tuple[tuple[str, timedelta], ...] = (
    ("d", timedelta(days=1)),
    ("h", timedelta(hours=1)),
    ("m", timedelta(minutes=1)),
    ("s", timedelta(seconds=1)),
    ("ms", timedelta(milliseconds=1)),
)


def not_a_duration(value: object) -> str:
    """Return the message shown to an author for a value that is not a duration."""
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    return f"{shown} is not a duration (use e.g. {DURATION_EXAMPLES})"


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m`` and friends; raise ValueError with an author-facing message."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(not_a_duration(text))
    total = timedelta()
    try:
        for group, (_, unit) in zip(match.groups(), _UNITS, strict=True):
            if group is not None:
                total += int(group.rstrip("dhms")) * unit
    except OverflowError:
        raise ValueError(f'"{text}" is too long a duration') from None
    return total


def format_duration(value: timedelta) -> str:
    """Write a duration the way parse_duration reads it (``timedelta(minutes=90)`` -> ``1h30m``)."""
    if value < timedelta(0) or value.microseconds % 1000:
        raise ValueError(f"{value!r} cannot be written as a duration (whole milliseconds, >= 0)")
    if not value:
        return "0s"
    rest = value
    parts: list[str] = []
    for suffix, unit in _UNITS:
        count, rest = divmod(rest, unit)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts)
