"""Last night's sleep against the user's target.

Reads ``sleep_log`` signals, one per sleep period (the latest signal per external_id wins):

    {"start": "2026-05-09T23:40:00+02:00",     # ISO datetimes; naive = the user's local time
     "end": "2026-05-10T06:10:00+02:00"}

The suggested bedtime counts back from the usual wake-up: the param ``usual_wake_minute``
when it is a preference or inferred (``wake_time``), else the median of recent nights.

Last night is every period that ends today (local), before now, and starts between noon
yesterday and noon today, so an afternoon nap does not count. The target is the pref
``sleep_target_hours`` or, without it, the param of the same name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ml.agents._format import clock, duration, fit, plural
from ml.agents._payload import (
    bounded_int,
    bounded_number,
    latest_per_id,
    local_datetime,
    payload_of,
)
from ml.agents.base import SNIPPET_MAX_CHARS, AgentInput, Snippet

# One logged period longer than this is a tracker error, not sleep.
_MAX_PERIOD = timedelta(hours=16)
# Missing the target by less than this is noise, not a short night.
_SHORT_MARGIN_MINUTES = 30
_AVERAGE_NIGHTS = 7
_MIN_NIGHTS_FOR_AVERAGE = 3
_BEDTIME_STEP_MINUTES = 15

_Period = tuple[datetime, datetime]


class SleepAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        default = bounded_number(inp.params, "sleep_target_hours", 7.5, 3, 14)
        target_hours = bounded_number(inp.user.preferences, "sleep_target_hours", default, 3, 14)
        target = round(target_hours * 60)
        nights = _nights(inp)
        last_night = nights.get(inp.today)
        if not last_night:
            return None

        slept = _minutes(last_night)
        tz = inp.user.timezone
        went_to_bed, woke_up = last_night[0][0].astimezone(tz), last_night[-1][1].astimezone(tz)
        short = slept < target - _SHORT_MARGIN_MINUTES
        if slept >= target:
            verdict = f"meeting the {duration(target)} target"
        else:
            verdict = f"{duration(target - slept)} under the {duration(target)} target"
        sentences = [
            f"Last night: slept {duration(slept)} ({clock(went_to_bed)}–{clock(woke_up)}),"
            f" {verdict}."
        ]
        recent = [_minutes(periods) for periods in nights.values()]
        average = (
            round(sum(recent) / len(recent)) if len(recent) >= _MIN_NIGHTS_FOR_AVERAGE else None
        )
        if average is not None:
            sentences.append(
                f"Average over the last {plural(len(recent), 'night')}: {duration(average)}."
            )

        if short:
            bedtime = _bedtime(_wake_minute(inp, nights, woke_up), target)
            suggestion: str | None = (
                f"You slept {duration(slept)} last night, under your {duration(target)} target:"
                f" keep today's plan light and aim to be in bed by {bedtime} tonight."
            )
        elif slept >= target:
            suggestion = (
                f"You slept {duration(slept)} and met your target: a good day to start with"
                " your hardest task while you are fresh."
            )
        else:
            suggestion = None
        return Snippet(
            text=fit(sentences, SNIPPET_MAX_CHARS),
            suggestion=suggestion,
            because=f"you slept {duration(slept)} last night ({verdict})",
            facts={
                "slept_minutes": slept,
                "target_minutes": target,
                "short_night": short,
                "average_minutes": average,
            },
        )


def _nights(inp: AgentInput) -> dict[date, list[_Period]]:
    """Group the recent sleep periods by the local day they end on, merged and in order."""
    # Periods are kept in UTC: wall-clock arithmetic is off by an hour when clocks change.
    tz = inp.user.timezone
    now = inp.now.astimezone(UTC)
    nights: defaultdict[date, list[_Period]] = defaultdict(list)
    for signal in latest_per_id(inp.of_kind("sleep_log")):
        payload = payload_of(signal)
        start = local_datetime(payload.get("start"), tz)
        end = local_datetime(payload.get("end"), tz)
        if start is None or end is None:
            continue
        period = (start.astimezone(UTC), end.astimezone(UTC))
        if period[1] > now or not timedelta(0) < period[1] - period[0] <= _MAX_PERIOD:
            continue
        if not 0 <= (inp.today - end.date()).days < _AVERAGE_NIGHTS:
            continue
        noon = datetime.combine(end.date(), time(12), tzinfo=tz)
        if noon - timedelta(days=1) <= start < noon:
            nights[end.date()].append(period)
    return {night: _merged(periods) for night, periods in nights.items()}


def _merged(periods: Sequence[_Period]) -> list[_Period]:
    # Trackers often log the same night twice; overlapping time must count once.
    merged: list[_Period] = []
    for start, end in sorted(periods):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _minutes(periods: Sequence[_Period]) -> int:
    return int(sum((end - start).total_seconds() for start, end in periods) // 60)


def _wake_minute(inp: AgentInput, nights: dict[date, list[_Period]], woke_up: datetime) -> int:
    """The usual wake-up minute: the preference or the inferred value (param
    ``usual_wake_minute``), else the median of the nights this run sees."""
    if inp.param_sources.get("usual_wake_minute", "default") != "default":
        return bounded_int(inp.params, "usual_wake_minute", 420, 0, 24 * 60 - 1)
    return _usual_wake(nights, inp.user.timezone, woke_up)


def _usual_wake(nights: dict[date, list[_Period]], tz: tzinfo, fallback: datetime) -> int:
    """Median local wake-up minute of the recent nights: one odd night does not set bedtime."""
    wakes = sorted(
        (end.astimezone(tz).hour * 60 + end.astimezone(tz).minute)
        for periods in nights.values()
        for end in [periods[-1][1]]
    )
    if not wakes:
        return fallback.hour * 60 + fallback.minute
    return wakes[len(wakes) // 2]


def _bedtime(wake: int, target_minutes: int) -> str:
    """The clock time that gives the full target before the usual wake-up minute."""
    minutes = (wake - target_minutes) % (24 * 60)
    minutes -= minutes % _BEDTIME_STEP_MINUTES
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
