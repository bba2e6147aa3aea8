"""Wording shared by the built-in agents: clock times, day names, durations, bounded text.

Everything here is locale-independent so that a snippet's text depends on its input only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clip(text: str, max_chars: int) -> str:
    """Shorten `text` to at most `max_chars`, marking the cut with an ellipsis."""
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)].rstrip() + "…"


def quoted(title: str) -> str:
    # Inner double quotes would make the boundaries of a title ambiguous in the prompt.
    return '"' + title.replace('"', "'") + '"'


def clock(moment: datetime | time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def day(d: date, today: date) -> str:
    """Name `d` relative to `today`: "today", "tomorrow", "yesterday", "Tue 12 May"."""
    delta = (d - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "tomorrow"
    if delta == -1:
        return "yesterday"
    label = f"{_WEEKDAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]}"
    return label if d.year == today.year else f"{label} {d.year}"


def duration(minutes: int) -> str:
    hours, rest = divmod(max(minutes, 0), 60)
    if not hours:
        return f"{rest} min"
    if not rest:
        return f"{hours} h"
    return f"{hours} h {rest} min"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def fit(sentences: Iterable[str], max_chars: int) -> str:
    """Join sentences in order of importance, dropping those that no longer fit."""
    text = ""
    for sentence in sentences:
        candidate = f"{text} {sentence}" if text else sentence
        if len(candidate) <= max_chars:
            text = candidate
        elif not text:
            text = clip(sentence, max_chars)
    return text
