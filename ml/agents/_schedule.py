"""Calendar events, working hours and the free time between meetings.

Parses ``calendar_event`` payloads (shape in ``ml.agents.calendar``) for the calendar and
focus agents. Intervals are kept in UTC so that durations stay right across
daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ml.agents._payload import (
    clock_setting,
    latest_per_id,
    local_date_or_datetime,
    local_datetime,
    payload_of,
    text,
)
from ml.agents.base import Signal

EVENT_KIND = "calendar_event"
DEFAULT_WORK_START = time(9, 0)
DEFAULT_WORK_END = time(18, 0)
_TITLE_CHARS = 60
# Longer all-day spans are more likely bad data than a real event worth mentioning.
_MAX_ALL_DAY_SPAN = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class Meeting:
    title: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class AllDayEvent:
    title: str
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class Gap:
    """Free time between two busy periods, as it stands regardless of the current time."""

    start: datetime
    end: datetime


def read_events(signals: Sequence[Signal], tz: ZoneInfo) -> tuple[list[Meeting], list[AllDayEvent]]:
    """Parse calendar events, skipping malformed ones; meetings are sorted by start."""
    meetings: list[Meeting] = []
    all_day: list[AllDayEvent] = []
    for signal in latest_per_id(s for s in signals if s.kind == EVENT_KIND):
        payload = payload_of(signal)
        title = text(payload.get("title"), _TITLE_CHARS) or "Untitled event"
        flag = payload.get("all_day", False)
        if not isinstance(flag, bool):
            continue
        if flag:
            event = _all_day(title, payload, tz)
            if event is not None:
                all_day.append(event)
            continue
        start = local_datetime(payload.get("start"), tz)
        end = local_datetime(payload.get("end"), tz)
        if start is None or end is None or end <= start:
            continue
        meetings.append(Meeting(title, start.astimezone(UTC), end.astimezone(UTC)))
    meetings.sort(key=lambda m: (m.start, m.end, m.title))
    all_day.sort(key=lambda e: (e.first, e.title))
    return meetings, all_day


def _all_day(title: str, payload: Mapping[str, Any], tz: ZoneInfo) -> AllDayEvent | None:
    start = local_date_or_datetime(payload.get("start"), tz)
    if start is None:
        return None
    end = local_date_or_datetime(payload.get("end"), tz)
    last = start[0] if end is None or end[0] <= start[0] else end[0] - timedelta(days=1)
    if last - start[0] > _MAX_ALL_DAY_SPAN:
        return None
    return AllDayEvent(title, start[0], last)


def working_hours(
    preferences: Mapping[str, Any], params: Mapping[str, Any] | None = None
) -> tuple[time, time]:
    """The user's working day from prefs ``work_start``/``work_end`` ("HH:MM"), else from
    the param ``working_hours`` ("HH:MM-HH:MM", which may be inferred from the calendar)."""
    default_start, default_end = DEFAULT_WORK_START, DEFAULT_WORK_END
    span = params.get("working_hours") if isinstance(params, Mapping) else None
    if isinstance(span, str) and span.count("-") == 1:
        first, last = span.split("-")
        default_start = clock_setting({"t": first}, "t", DEFAULT_WORK_START)
        default_end = clock_setting({"t": last}, "t", DEFAULT_WORK_END)
        if default_end <= default_start:
            default_start, default_end = DEFAULT_WORK_START, DEFAULT_WORK_END
    start = clock_setting(preferences, "work_start", default_start)
    end = clock_setting(preferences, "work_end", default_end)
    if end <= start:
        return default_start, default_end
    return start, end


def working_window(day: date, hours: tuple[time, time], tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, hours[0], tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day, hours[1], tzinfo=tz).astimezone(UTC)
    return start, end


def gaps(window: tuple[datetime, datetime], meetings: Sequence[Meeting]) -> list[Gap]:
    """Free gaps inside `window` between the (possibly overlapping) meetings."""
    free: list[Gap] = []
    cursor, window_end = window
    for meeting in meetings:
        if meeting.end <= cursor:
            continue
        if meeting.start >= window_end:
            break
        if meeting.start > cursor:
            free.append(Gap(cursor, meeting.start))
        cursor = max(cursor, meeting.end)
    if cursor < window_end:
        free.append(Gap(cursor, window_end))
    return free


def current_meeting(meetings: Sequence[Meeting], now: datetime) -> Meeting | None:
    """The meeting under way at `now` that ends last."""
    ongoing = [m for m in meetings if m.start <= now < m.end]
    return max(ongoing, key=lambda m: (m.end, m.title)) if ongoing else None
