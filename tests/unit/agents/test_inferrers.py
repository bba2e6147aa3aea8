from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.agents.base import Signal
from ml.agents.inference import InferenceInput, Inferred, Inferrer, run_inferrer
from ml.agents.inferrers import ACTIVE_HOUR, WAKE_TIME, WORKING_HOURS

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 5, 15, 10, 0, tzinfo=UTC)  # Fri 15 May, 12:00 in Berlin
RECEIVED = datetime(2026, 5, 1, tzinfo=UTC)


def infer(
    inferrer: Inferrer,
    payloads: Sequence[Any],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = BERLIN,
) -> Inferred | None:
    """Run ``inferrer`` on one signal of the kind it reads per payload (ids ``s0``, ``s1``…)."""
    kind = inferrer.reads[0]
    signals = [Signal(kind, f"s{i}", p, RECEIVED) for i, p in enumerate(payloads)]
    return run_inferrer(inferrer, InferenceInput(signals, tz, now))


def sleep(start: str, end: str) -> dict[str, Any]:
    """A sleep period in Berlin summer time."""
    return {"start": f"{start}+02:00", "end": f"{end}+02:00"}


def event(day: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    """A timed event; naive times are the user's local time."""
    return {"title": "Meeting", "start": f"{day}T{start}", "end": f"{day}T{end}", **extra}


WEEK_OF_NIGHTS = [
    sleep("2026-05-08T23:00:00", "2026-05-09T06:50:00"),
    sleep("2026-05-09T23:30:00", "2026-05-10T07:00:00"),
    sleep("2026-05-10T23:00:00", "2026-05-11T07:00:00"),
    sleep("2026-05-11T23:10:00", "2026-05-12T07:10:00"),
    sleep("2026-05-12T22:50:00", "2026-05-13T07:05:00"),
    sleep("2026-05-13T23:00:00", "2026-05-14T06:55:00"),
    sleep("2026-05-14T23:20:00", "2026-05-15T07:00:00"),
]


# wake_time


def test_wake_time_is_the_median_wake_up_of_the_last_two_weeks() -> None:
    ignored = [
        sleep("2026-05-14T14:00:00", "2026-05-14T15:30:00"),  # an afternoon nap
        sleep("2026-04-20T23:00:00", "2026-04-21T05:00:00"),  # older than 14 days
        sleep("2026-05-15T13:00:00", "2026-05-15T13:30:00"),  # in the future at 12:00
        sleep("2026-05-10T13:00:00", "2026-05-11T06:00:00"),  # 17 h: a tracker error
    ]
    # Median of 06:50, 06:55, 07:00, 07:00, 07:00, 07:05, 07:10; MAD 5 min.
    assert infer(WAKE_TIME, WEEK_OF_NIGHTS + ignored) == Inferred(420, 0.958, 7)


def test_a_night_wakes_up_at_the_end_of_its_last_period() -> None:
    nights = [
        sleep("2026-05-13T23:00:00", "2026-05-14T03:00:00"),
        sleep("2026-05-14T03:30:00", "2026-05-14T07:20:00"),
        sleep("2026-05-14T23:00:00", "2026-05-15T07:20:00"),
    ]
    # Two nights, both woken at 07:20: confidence 2/7.
    assert infer(WAKE_TIME, nights) == Inferred(440, 0.286, 2)


def test_the_latest_signal_for_a_period_wins() -> None:
    first = Signal("sleep_log", "night", sleep("2026-05-14T23:00:00", "2026-05-15T06:00:00"), NOW)
    fixed = Signal(
        "sleep_log",
        "night",
        sleep("2026-05-14T23:00:00", "2026-05-15T08:00:00"),
        NOW + timedelta(minutes=1),
    )
    result = run_inferrer(WAKE_TIME, InferenceInput([fixed, first], BERLIN, NOW))
    assert result == Inferred(480, 0.143, 1)


def test_wake_time_confidence_grows_with_nights_and_shrinks_with_spread() -> None:
    few = infer(WAKE_TIME, WEEK_OF_NIGHTS[-3:])
    scattered = [
        sleep(f"2026-05-{day - 1:02d}T23:00:00", f"2026-05-{day:02d}T{wake}:00")
        for day, wake in zip(
            range(9, 16),
            ["05:00", "06:00", "07:00", "08:00", "09:00", "07:00", "07:00"],
            strict=True,
        )
    ]
    regular = [
        sleep(f"2026-05-{day - 1:02d}T23:00:00", f"2026-05-{day:02d}T07:00:00")
        for day in range(9, 16)
    ]
    assert few == Inferred(420, 0.411, 3)  # 3/7 * (1 - 5/120)
    assert infer(WAKE_TIME, scattered) == Inferred(420, 0.5, 7)  # MAD 60 min
    assert infer(WAKE_TIME, regular) == Inferred(420, 1.0, 7)


def test_wake_ups_around_midnight_are_close_on_the_clock() -> None:
    nights = [
        sleep("2026-05-12T11:00:00", "2026-05-12T23:50:00"),
        sleep("2026-05-13T17:00:00", "2026-05-14T00:10:00"),
        sleep("2026-05-14T17:30:00", "2026-05-15T00:20:00"),
    ]
    # 00:10, the middle one, not the 08:00 a linear median of 1430, 10, 20 would give.
    assert infer(WAKE_TIME, nights) == Inferred(10, 0.393, 3)


# Berlin goes from +01:00 to +02:00 on Sun 29 March: four nights on each side, so an
# implementation with a fixed offset gets the median or the spread wrong.
SPRING_FORWARD_IN_UTC = [
    {"start": "2026-03-24T22:00:00Z", "end": "2026-03-25T06:00:00Z"},
    {"start": "2026-03-25T22:00:00Z", "end": "2026-03-26T06:00:00Z"},
    {"start": "2026-03-26T22:00:00Z", "end": "2026-03-27T06:00:00Z"},
    {"start": "2026-03-27T22:00:00Z", "end": "2026-03-28T06:00:00Z"},
    {"start": "2026-03-28T22:00:00Z", "end": "2026-03-29T05:00:00Z"},  # 7 h, not 8
    {"start": "2026-03-29T21:00:00Z", "end": "2026-03-30T05:00:00Z"},
    {"start": "2026-03-30T21:00:00Z", "end": "2026-03-31T05:00:00Z"},
    {"start": "2026-03-31T21:00:00Z", "end": "2026-04-01T05:00:00Z"},
]
SPRING_FORWARD_NAIVE = [  # naive times are the user's wall clock
    {"start": f"{wake - timedelta(days=1)}T23:00:00", "end": f"{wake}T07:00:00"}
    for wake in (date(2026, 3, 25) + timedelta(days=n) for n in range(8))
]


@pytest.mark.parametrize(
    "nights", [SPRING_FORWARD_IN_UTC, SPRING_FORWARD_NAIVE], ids=["utc", "naive-local"]
)
def test_wake_time_reads_local_clock_time_across_the_dst_change(
    nights: list[dict[str, str]],
) -> None:
    now = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    # Every night woke at 07:00 on the wall clock, on both sides of the change.
    assert infer(WAKE_TIME, nights, now=now) == Inferred(420, 1.0, 8)
    assert infer(WAKE_TIME, nights[:4], now=now) == Inferred(420, 0.571, 4)
    assert infer(WAKE_TIME, nights[4:], now=now) == Inferred(420, 0.571, 4)


def test_wake_time_in_the_autumn_change_week() -> None:
    # Berlin goes back from +02:00 to +01:00 at 03:00 on Sun 25 October.
    nights = [
        {"start": "2026-10-23T21:00:00Z", "end": "2026-10-24T04:30:00Z"},  # 06:30 +02:00
        {"start": "2026-10-24T21:00:00Z", "end": "2026-10-25T05:30:00Z"},  # 06:30 +01:00
        {"start": "2026-10-25T22:00:00Z", "end": "2026-10-26T05:30:00Z"},  # 06:30 +01:00
    ]
    now = datetime(2026, 10, 26, 12, 0, tzinfo=UTC)
    assert infer(WAKE_TIME, nights, now=now) == Inferred(390, 0.429, 3)


HOSTILE: list[Any] = [
    ["not", "a", "mapping"],
    None,
    {},
    {"start": "2026-05-14T23:00:00"},
    {"start": 1715720400, "end": 1715745600},
    {"start": "yesterday", "end": "today"},
    {"start": "2026-05-15T07:00:00", "end": "2026-05-14T23:00:00"},  # ends before it starts
    {"start": "0001-01-01T00:00:00+14:00", "end": "0001-01-01T06:00:00+14:00"},
    {"start": "9999-12-31T20:00:00-14:00", "end": "9999-12-31T23:00:00-14:00"},
    {"start": "2026-05-14T23:00:00" + " " * 100, "end": "2026-05-15T07:00:00"},
    {"start": {"nested": True}, "end": ["2026-05-15T07:00:00"]},
    {"start": float("nan"), "end": float("inf")},
    {"reaction": ["done"]},
    {"reaction": "DONE"},
]


def test_wake_time_skips_hostile_payloads() -> None:
    good = sleep("2026-05-14T23:00:00", "2026-05-15T06:30:00")
    assert infer(WAKE_TIME, [*HOSTILE, good]) == Inferred(390, 0.143, 1)
    assert infer(WAKE_TIME, HOSTILE) is None


def test_wake_time_without_a_night_is_none() -> None:
    assert infer(WAKE_TIME, []) is None
    assert infer(WAKE_TIME, [sleep("2026-05-14T14:00:00", "2026-05-14T15:00:00")]) is None


# working_hours

TEN_WORKDAYS = [
    "2026-05-04", "2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08",
    "2026-05-11", "2026-05-12", "2026-05-13", "2026-05-14", "2026-05-15",
]  # fmt: skip


def working_days(first_starts: Sequence[str], last_ends: Sequence[str]) -> list[dict[str, Any]]:
    """One day per pair: an event at its first start, a lunch, an event until its last end."""
    payloads = []
    for day, start, end in zip(TEN_WORKDAYS, first_starts, last_ends, strict=False):
        payloads += [
            event(day, start, "11:00"),
            event(day, "12:00", "13:00"),
            event(day, "15:00", end),
        ]
    return payloads


def test_working_hours_are_the_typical_first_start_and_last_end_on_weekdays() -> None:
    starts = ["09:00"] * 8 + ["08:30", "10:00"]
    ends = ["17:30"] * 8 + ["18:00", "16:00"]
    ignored = [
        event("2026-05-09", "07:00", "22:00"),  # Saturday
        event("2026-05-11", "06:00", "07:00", status="cancelled"),
        {"title": "Offsite", "start": "2026-05-12", "end": "2026-05-13", "all_day": True},
        {"title": "Night shift", "start": "2026-05-13T20:00", "end": "2026-05-14T04:00"},
        event("2026-04-10", "06:00", "23:00"),  # older than 28 days
        event("2026-05-18", "06:00", "23:00"),  # next week
    ]
    # 20th percentile of the starts and 80th of the ends; MADs of 0 min.
    assert infer(WORKING_HOURS, working_days(starts, ends) + ignored) == Inferred(
        "09:00-17:30", 1.0, 10
    )


def test_working_hours_are_rounded_to_half_hours() -> None:
    payloads = working_days(["08:40"] * 5, ["17:50"] * 5)
    assert infer(WORKING_HOURS, payloads) == Inferred("08:30-18:00", 0.5, 5)


def test_working_hours_confidence_grows_with_days_and_consistency() -> None:
    few = infer(WORKING_HOURS, working_days(["09:00"] * 3, ["17:00"] * 3))
    many = infer(WORKING_HOURS, working_days(["09:00"] * 10, ["17:00"] * 10))
    ragged = infer(
        WORKING_HOURS,
        working_days(
            ["07:00", "08:00", "09:00", "10:00", "10:30"] * 2,
            ["16:00", "17:00", "18:00", "19:00", "20:00"] * 2,
        ),
    )
    assert few == Inferred("09:00-17:00", 0.3, 3)
    assert many == Inferred("09:00-17:00", 1.0, 10)
    # Starts 07:00-10:30 (MAD 60) and ends 16:00-20:00 (MAD 60): half the confidence.
    assert ragged == Inferred("08:00-19:00", 0.5, 10)


def test_working_hours_read_local_time_across_the_dst_change() -> None:
    days = ["2026-03-23", "2026-03-24", "2026-03-25", "2026-03-26", "2026-03-27"]
    days += ["2026-03-30", "2026-03-31"]
    payloads = [
        # 09:00-17:00 on the wall clock: +01:00 before Sun 29 March, +02:00 after.
        {
            "start": f"{day}T{'08' if day < '2026-03-29' else '07'}:00:00Z",
            "end": f"{day}T{'16' if day < '2026-03-29' else '15'}:00:00Z",
        }
        for day in days
    ]
    now = datetime(2026, 3, 31, 18, 0, tzinfo=UTC)
    assert infer(WORKING_HOURS, payloads, now=now) == Inferred("09:00-17:00", 0.7, 7)


def test_working_hours_skip_hostile_payloads() -> None:
    hostile = [
        *HOSTILE,
        event("2026-05-11", "07:00", "19:00", all_day="no"),
        event("2026-05-11", "07:00", "19:00", status=["cancelled"]),
        event("2026-05-11", "07:00", "19:00", status=" Canceled "),
        event("2026-05-11", "07:00", "07:00"),  # ends as it starts
    ]
    good = event("2026-05-14", "08:00", "16:00")
    assert infer(WORKING_HOURS, [*hostile, good]) == Inferred("08:00-16:00", 0.1, 1)
    assert infer(WORKING_HOURS, hostile) is None


def test_working_hours_without_weekday_events_is_none() -> None:
    assert infer(WORKING_HOURS, []) is None
    assert infer(WORKING_HOURS, [event("2026-05-10", "10:00", "12:00")]) is None  # Sunday


def test_a_short_day_still_gives_a_valid_range() -> None:
    assert infer(WORKING_HOURS, [event("2026-05-14", "10:00", "10:10")]) == Inferred(
        "10:00-10:30", 0.1, 1
    )
    assert infer(WORKING_HOURS, [event("2026-05-14", "23:40", "23:55")]) == Inferred(
        "23:00-23:30", 0.1, 1
    )


# active_hour


def reactions(times: Sequence[str], reaction: str = "done", now: datetime = NOW) -> InferenceInput:
    """One reaction per UTC time "YYYY-MM-DDTHH:MM", each on its own tip."""
    signals = [
        Signal(
            "tip_feedback",
            f"tip{i}@{at}:{reaction}",
            {"reaction": reaction, "tip_text": "Take a walk"},
            datetime.fromisoformat(f"{at}+00:00"),
        )
        for i, at in enumerate(times)
    ]
    return InferenceInput(signals, BERLIN, now)


def merged(*inputs: InferenceInput) -> InferenceInput:
    first = inputs[0]
    signals = [s for inp in inputs for s in inp.signals]
    return InferenceInput(signals, first.timezone, first.now)


def test_active_hour_is_when_tips_are_most_often_done() -> None:
    # UTC times; Berlin is +02:00: five at 14:xx local, one each at 13, 15 and 09.
    times = [
        "2026-05-14T12:05", "2026-05-13T12:40", "2026-05-12T12:10", "2026-05-11T12:59",
        "2026-05-08T12:30", "2026-05-07T11:15", "2026-05-06T13:20", "2026-05-05T07:45",
    ]  # fmt: skip
    done = reactions(times)
    ignored = merged(
        reactions(["2026-05-14T18:00"] * 3, "dismiss"),
        reactions(["2026-05-13T18:00"] * 3, "snooze"),
        reactions(["2026-04-01T18:00"]),  # older than 30 days
        reactions(["2026-05-15T18:00"]),  # after now
    )
    assert run_inferrer(ACTIVE_HOUR, merged(done, ignored)) == Inferred(14, 0.875, 8)


def test_active_hour_wraps_at_midnight() -> None:
    # 23:xx, 23:xx, 00:xx, 00:xx, 01:xx in Berlin: midnight's neighbourhood holds all five.
    times = [
        "2026-05-10T21:10", "2026-05-11T21:20", "2026-05-11T22:10",
        "2026-05-12T22:30", "2026-05-13T23:05",
    ]  # fmt: skip
    done = reactions(times)
    assert run_inferrer(ACTIVE_HOUR, done) == Inferred(0, 0.625, 5)


def test_active_hour_confidence_grows_with_done_reactions_and_focus() -> None:
    four = reactions([f"2026-05-{d:02d}T12:30" for d in range(10, 14)])
    eight = reactions([f"2026-05-{d:02d}T12:30" for d in range(6, 14)])
    spread = reactions([f"2026-05-{10 + i % 3:02d}T{(3 * i - 2) % 24:02d}:30" for i in range(8)])
    assert run_inferrer(ACTIVE_HOUR, four) == Inferred(14, 0.5, 4)
    assert run_inferrer(ACTIVE_HOUR, eight) == Inferred(14, 1.0, 8)
    # One done every three hours: the earliest hour wins a tie it cannot be sure of.
    assert run_inferrer(ACTIVE_HOUR, spread) == Inferred(0, 0.125, 8)


def test_active_hour_reads_local_time_across_the_dst_change() -> None:
    # 09:15 on the wall clock every day: 08:15Z before Sun 29 March, 07:15Z after.
    times = [
        "2026-03-26T08:15", "2026-03-27T08:15", "2026-03-28T08:15",
        "2026-03-29T07:15", "2026-03-30T07:15", "2026-03-31T07:15",
    ]  # fmt: skip
    now = datetime(2026, 3, 31, 18, 0, tzinfo=UTC)
    assert run_inferrer(ACTIVE_HOUR, reactions(times, now=now)) == Inferred(9, 0.75, 6)
    # Each side alone: a fixed offset would put one of them at 08:00 or 10:00.
    assert run_inferrer(ACTIVE_HOUR, reactions(times[:3], now=now)) == Inferred(9, 0.375, 3)
    assert run_inferrer(ACTIVE_HOUR, reactions(times[3:], now=now)) == Inferred(9, 0.375, 3)


def test_active_hour_skips_hostile_payloads() -> None:
    assert infer(ACTIVE_HOUR, HOSTILE) is None
    good = Signal("tip_feedback", "t:done", {"reaction": "done"}, NOW - timedelta(hours=2))
    signals = [Signal("tip_feedback", f"h{i}", p, NOW) for i, p in enumerate(HOSTILE)]
    result = run_inferrer(ACTIVE_HOUR, InferenceInput([*signals, good], BERLIN, NOW))
    assert result == Inferred(10, 0.125, 1)


def test_active_hour_without_done_reactions_is_none() -> None:
    assert infer(ACTIVE_HOUR, []) is None
    assert run_inferrer(ACTIVE_HOUR, reactions(["2026-05-14T12:00"], "dismiss")) is None


# Every inferrer, fed arbitrary payloads and times, returns a checked value or None.

near = st.datetimes(min_value=datetime(2026, 4, 1), max_value=datetime(2026, 6, 1))
iso = st.one_of(
    near.map(datetime.isoformat),
    near.map(lambda d: d.replace(tzinfo=UTC).isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "+14:00"),
    st.datetimes().map(lambda d: d.isoformat() + "-12:00"),
    st.sampled_from(["done", "snooze", "dismiss", "cancelled", "", "2026-02-30"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=80), iso)
payloads: st.SearchStrategy[Any] = st.one_of(
    st.dictionaries(
        st.sampled_from(["start", "end", "all_day", "status", "reaction", "title"]), scalars
    ),
    st.lists(scalars, max_size=3),
    scalars,
)
occurred = st.one_of(st.datetimes(), st.datetimes(timezones=st.just(UTC)), near)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inferrer=st.sampled_from([WAKE_TIME, WORKING_HOURS, ACTIVE_HOUR]),
    drawn=st.lists(st.tuples(st.text(max_size=3), payloads, occurred), max_size=15),
    tz=st.sampled_from(["Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns", "UTC"]),
    now=near.map(lambda d: d.replace(tzinfo=UTC)),
)
def test_no_payload_makes_an_inferrer_fail(
    inferrer: Inferrer,
    drawn: list[tuple[str, Any, datetime]],
    tz: str,
    now: datetime,
) -> None:
    kind = inferrer.reads[0]
    signals = [Signal(kind, ext, payload, at) for ext, payload, at in drawn]
    result = run_inferrer(inferrer, InferenceInput(signals, ZoneInfo(tz), now))
    assert result is None or result.observations >= 1
