"""The built-in inferrers: the usual wake-up time, working hours and the hour tips get done.

Each reads one signal kind, skips every signal it cannot make sense of and never raises.
Instants are compared in UTC and turned into local times with ``astimezone(tz)``, so
durations and clock times stay right across daylight-saving changes. Confidences are
rounded to three decimals. MAD is the median absolute deviation, in minutes; a spread of
two hours or more means there is no habit to speak of.

wake_time (``sleep_log``, payload shape in ``ml.agents.sleep``): the median local wake-up
minute (0-1439) of the nights that ended in the last 14 local days. A night's wake-up is
the latest end of its periods that start between noon the day before and noon the day
they end; periods over 16 h or ending in the future are ignored. The median is taken on
the clock face, so 23:50 and 00:10 are twenty minutes apart, not a day.
    confidence = min(1, nights / 7) * max(0, 1 - MAD / 120)

working_hours (``calendar_event``, payload shape in ``ml.agents.calendar``; all-day,
cancelled and overnight events are skipped): on the weekdays of the last 28 local days,
the 20th percentile of each day's first local start and the 80th percentile of its last
local end, rounded to 30 minutes, as "HH:MM-HH:MM".
    confidence = min(1, days / 10) * max(0, 1 - (MAD of starts + MAD of ends) / 2 / 120)

active_hour (``tip_feedback``, written by the service when the user reacts to a tip): the
local hour (0-23) with the most "done" reactions in the last 30 local days, each hour
counted with its two neighbours, wrapping at midnight.
    confidence = (share of done reactions within one hour of it) * min(1, done / 8)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from ml.agents._payload import in_zone, latest_per_id, local_datetime, payload_of
from ml.agents.base import Signal
from ml.agents.inference import InferenceInput, Inferred, Inferrer

_DAY_MINUTES = 24 * 60
# A spread of this many minutes (MAD) leaves no confidence at all.
_NO_HABIT_MINUTES = 120.0

_WAKE_DAYS = 14
_WAKE_FULL_NIGHTS = 7
# One logged period longer than this is a tracker error, not sleep.
_MAX_PERIOD = timedelta(hours=16)

_WORK_DAYS = 28
_WORK_FULL_DAYS = 10
_WORK_STEP = 30
_START_QUANTILE, _END_QUANTILE = 0.2, 0.8
_CANCELLED = frozenset({"cancelled", "canceled"})

_ACTIVE_DAYS = 30
_ACTIVE_FULL_DONE = 8


def _wake_time(inp: InferenceInput) -> Inferred | None:
    wakes = _wake_minutes(inp)
    if not wakes:
        return None
    unwrapped = _unwrapped(wakes, _DAY_MINUTES)
    usual = _half_up(median(unwrapped)) % _DAY_MINUTES
    confidence = min(1.0, len(wakes) / _WAKE_FULL_NIGHTS) * _consistency(_mad(unwrapped))
    return Inferred(usual, round(confidence, 3), len(wakes))


def _wake_minutes(inp: InferenceInput) -> list[int]:
    """The local wake-up minute of each night that ended in the last 14 local days."""
    tz, now, today = inp.timezone, inp.now.astimezone(UTC), inp.today
    wake_ups: dict[date, datetime] = {}
    for signal in latest_per_id(_readable(inp.signals, "sleep_log")):
        payload = payload_of(signal)
        start = local_datetime(payload.get("start"), tz)
        end = local_datetime(payload.get("end"), tz)
        if start is None or end is None:
            continue
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        if end_utc > now or not timedelta(0) < end_utc - start_utc <= _MAX_PERIOD:
            continue
        night = end.date()
        if not 0 <= (today - night).days < _WAKE_DAYS:
            continue
        noon = datetime.combine(night, time(12), tzinfo=tz).astimezone(UTC)
        noon_before = datetime.combine(night - timedelta(days=1), time(12), tzinfo=tz)
        # An afternoon nap ends the same day but starts after noon: it is not the night.
        if noon_before.astimezone(UTC) <= start_utc < noon:
            wake_ups[night] = max(wake_ups.get(night, end_utc), end_utc)
    return [_minute_of_day(end.astimezone(tz)) for end in wake_ups.values()]


def _working_hours(inp: InferenceInput) -> Inferred | None:
    days = _working_days(inp)
    if not days:
        return None
    starts = [first for first, _ in days.values()]
    ends = [last for _, last in days.values()]
    # Clamped so the result is always a valid "HH:MM" range with the end after the start.
    start = min(_to_step(_percentile(starts, _START_QUANTILE)), _DAY_MINUTES - 2 * _WORK_STEP)
    end = _to_step(_percentile(ends, _END_QUANTILE))
    end = min(max(end, start + _WORK_STEP), _DAY_MINUTES - _WORK_STEP)
    spread = (_mad(starts) + _mad(ends)) / 2
    confidence = min(1.0, len(days) / _WORK_FULL_DAYS) * _consistency(spread)
    return Inferred(f"{_clock(start)}-{_clock(end)}", round(confidence, 3), len(days))


def _working_days(inp: InferenceInput) -> dict[date, tuple[int, int]]:
    """The first local start and last local end minute of each recent weekday with events."""
    tz, today = inp.timezone, inp.today
    days: dict[date, tuple[int, int]] = {}
    for signal in latest_per_id(_readable(inp.signals, "calendar_event")):
        span = _timed_event(payload_of(signal), tz)
        if span is None:
            continue
        start, end = span
        day = start.date()
        if day.weekday() >= 5 or not 0 <= (today - day).days < _WORK_DAYS:
            continue
        first, last = days.get(day, (_DAY_MINUTES, 0))
        days[day] = (min(first, _minute_of_day(start)), max(last, _minute_of_day(end)))
    return days


def _timed_event(payload: Mapping[str, Any], tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The local start and end of a timed, live event that starts and ends on one day."""
    status = payload.get("status")
    if payload.get("all_day", False) is not False or not isinstance(status, str | None):
        return None
    if isinstance(status, str) and status.strip().casefold() in _CANCELLED:
        return None
    start = local_datetime(payload.get("start"), tz)
    end = local_datetime(payload.get("end"), tz)
    if start is None or end is None or end.astimezone(UTC) <= start.astimezone(UTC):
        return None
    # An overnight event says nothing about when the working day starts or ends.
    return (start, end) if start.date() == end.date() else None


def _active_hour(inp: InferenceInput) -> Inferred | None:
    hours = _done_hours(inp)
    if not hours:
        return None
    counts = [0] * 24
    for hour in hours:
        counts[hour] += 1
    # counts[-1] is 23:00, so the neighbourhood wraps at midnight.
    near = [counts[h - 1] + counts[h] + counts[(h + 1) % 24] for h in range(24)]
    # Ties go to the busier hour itself, then to the earlier one, never to input order.
    best = max(range(24), key=lambda h: (near[h], counts[h], -h))
    done = len(hours)
    confidence = near[best] / done * min(1.0, done / _ACTIVE_FULL_DONE)
    return Inferred(best, round(confidence, 3), done)


def _done_hours(inp: InferenceInput) -> list[int]:
    """The local hour of each "done" reaction in the last 30 local days."""
    tz, now = inp.timezone, inp.now.astimezone(UTC)
    first_day = inp.today - timedelta(days=_ACTIVE_DAYS - 1)
    hours: list[int] = []
    for signal in latest_per_id(_readable(inp.signals, "tip_feedback")):
        if payload_of(signal).get("reaction") != "done":
            continue
        at = in_zone(signal.occurred_at, tz)
        if at is None or at.astimezone(UTC) > now or at.date() < first_day:
            continue
        hours.append(at.hour)
    return hours


def _readable(signals: Sequence[Signal], kind: str) -> list[Signal]:
    return [s for s in signals if s.kind == kind and isinstance(s.occurred_at, datetime)]


def _minute_of_day(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def _clock(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def _unwrapped(minutes: Sequence[int], period: int) -> list[int]:
    """Sort `minutes` on the clock face, cut at its widest empty arc and lay them out flat."""
    ordered = sorted(m % period for m in minutes)
    count = len(ordered)
    # arcs[i] runs from ordered[i] to the next value; the last one goes round past midnight.
    arcs = [ordered[i + 1] - ordered[i] for i in range(count - 1)]
    arcs.append(ordered[0] + period - ordered[-1])
    first = (max(range(count), key=lambda i: arcs[i]) + 1) % count
    return ordered[first:] + [m + period for m in ordered[:first]]


def _mad(values: Sequence[float]) -> float:
    centre = median(values)
    return median(abs(v - centre) for v in values)


def _consistency(spread_minutes: float) -> float:
    return max(0.0, 1.0 - spread_minutes / _NO_HABIT_MINUTES)


def _percentile(values: Sequence[float], quantile: float) -> float:
    """Linear interpolation between the closest ranks, as numpy's default does."""
    ordered = sorted(values)
    position = quantile * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _to_step(minutes: float) -> int:
    return _half_up(minutes / _WORK_STEP) * _WORK_STEP


def _half_up(value: float) -> int:
    # round() rounds halves to even, which would move a tie by a whole step on parity.
    return math.floor(value + 0.5)


WAKE_TIME = Inferrer(
    name="wake_time",
    reads=("sleep_log",),
    type="int",
    min_confidence=0.5,
    description="Usual local wake-up time, in minutes after midnight, from 14 days of sleep.",
    compute=_wake_time,
)
WORKING_HOURS = Inferrer(
    name="working_hours",
    reads=("calendar_event",),
    type="str",
    min_confidence=0.5,
    description='Usual working hours on weekdays, "HH:MM-HH:MM", from 28 days of calendar.',
    compute=_working_hours,
)
ACTIVE_HOUR = Inferrer(
    name="active_hour",
    reads=("tip_feedback",),
    type="int",
    min_confidence=0.4,
    description="Local hour of day at which the user most often marks tips done (30 days).",
    compute=_active_hour,
)
BUILT_IN: tuple[Inferrer, ...] = (WAKE_TIME, WORKING_HOURS, ACTIVE_HOUR)
