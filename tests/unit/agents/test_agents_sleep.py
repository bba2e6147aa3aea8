from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import Snippet
from ml.agents.sleep import SleepAgent
from tests.unit.agents.agent_runs import run_agent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 7, 0, tzinfo=UTC)  # Tue 12 May, 09:00 in Paris


def run(
    payloads: Sequence[Mapping[str, Any]],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
    prefs: Mapping[str, Any] | None = None,
) -> Snippet | None:
    params = {"sleep_target_hours": 7.5} if params is None else params
    return run_agent(
        SleepAgent(), "sleep_log", payloads, now=now, tz=tz, params=params, prefs=prefs
    )


def night(start: str, end: str) -> dict[str, Any]:
    return {"start": f"{start}+02:00", "end": f"{end}+02:00"}


SHORT = night("2026-05-12T00:50:00", "2026-05-12T06:30:00")


def test_short_night_suggests_a_light_day_and_an_earlier_bedtime() -> None:
    snippet = run([SHORT])
    assert snippet is not None
    assert snippet.text == (
        "Last night: slept 5 h 40 min (00:50–06:30), 1 h 50 min under the 7 h 30 min target."
    )
    assert snippet.suggestion == (
        "You slept 5 h 40 min last night, under your 7 h 30 min target: keep today's plan"
        " light and aim to be in bed by 23:00 tonight."
    )
    assert snippet.facts == {
        "slept_minutes": 340,
        "target_minutes": 450,
        "short_night": True,
        "average_minutes": None,
    }


def test_a_good_night_and_the_recent_average() -> None:
    snippet = run(
        [
            night("2026-05-11T23:00:00", "2026-05-12T07:00:00"),
            night("2026-05-10T23:30:00", "2026-05-11T06:30:00"),
            night("2026-05-09T23:00:00", "2026-05-10T06:00:00"),
            night("2026-05-01T23:00:00", "2026-05-02T06:00:00"),  # too old for the average
        ]
    )
    assert snippet is not None
    assert snippet.text == (
        "Last night: slept 8 h (23:00–07:00), meeting the 7 h 30 min target."
        " Average over the last 3 nights: 7 h 20 min."
    )
    assert snippet.suggestion is not None and "met your target" in snippet.suggestion
    assert snippet.facts["short_night"] is False


def test_a_slightly_short_night_is_not_flagged() -> None:
    snippet = run([night("2026-05-11T23:20:00", "2026-05-12T06:30:00")])  # 7 h 10 min
    assert snippet is not None
    assert "20 min under the 7 h 30 min target" in snippet.text
    assert snippet.suggestion is None
    assert snippet.facts["short_night"] is False


def test_interrupted_night_is_summed_and_duplicates_count_once() -> None:
    snippet = run(
        [
            night("2026-05-11T23:00:00", "2026-05-12T02:00:00"),
            night("2026-05-12T02:30:00", "2026-05-12T06:30:00"),
            night("2026-05-12T03:00:00", "2026-05-12T05:00:00"),  # same night, logged twice
        ]
    )
    assert snippet is not None
    assert snippet.text.startswith("Last night: slept 7 h (23:00–06:30)")


def test_naps_and_future_periods_do_not_count() -> None:
    nap = night("2026-05-11T14:00:00", "2026-05-11T15:00:00")
    future = night("2026-05-12T08:00:00", "2026-05-12T10:00:00")
    assert run([nap, future]) is None


def test_target_preference_wins_over_the_param() -> None:
    snippet = run([SHORT], prefs={"sleep_target_hours": 6})
    assert snippet is not None
    assert "20 min under the 6 h target" in snippet.text
    assert snippet.suggestion is None


def test_durations_are_right_across_a_clock_change() -> None:
    # Paris springs forward at 02:00 on 29 March 2026: 23:00 to 07:00 is 7 hours.
    snippet = run(
        [{"start": "2026-03-28T23:00:00", "end": "2026-03-29T07:00:00"}],
        now=datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
    )
    assert snippet is not None
    assert snippet.text.startswith("Last night: slept 7 h (23:00–07:00)")


def test_today_is_the_users_local_day() -> None:
    # 23:30 UTC on the 11th is 01:30 on the 12th in Paris: last night has not ended yet.
    evening = datetime(2026, 5, 11, 23, 30, tzinfo=UTC)
    assert run([night("2026-05-10T23:00:00", "2026-05-11T07:00:00")], now=evening) is None
    snippet = run(
        [night("2026-05-10T23:00:00", "2026-05-11T07:00:00")],
        now=evening,
        tz=ZoneInfo("America/New_York"),
    )
    assert snippet is not None


def test_text_is_stable_between_sweeps() -> None:
    first = run([SHORT])
    assert first is not None
    assert first == run([SHORT], now=NOW + timedelta(minutes=10))


@pytest.mark.parametrize(
    "payload",
    [
        {"start": "2026-05-12T00:00:00+02:00"},
        {"start": "2026-05-12T06:00:00+02:00", "end": "2026-05-12T01:00:00+02:00"},
        {"start": "2026-05-10T06:00:00+02:00", "end": "2026-05-12T06:00:00+02:00"},
        {"start": "last night", "end": "this morning"},
        {"start": 1, "end": 2},
        {"start": "2026-05-11", "end": "2026-05-12"},
    ],
)
def test_malformed_logs_are_skipped(payload: dict[str, Any]) -> None:
    assert run([SHORT, payload]) == run([SHORT])


def test_bedtime_follows_the_usual_wake_up_not_one_odd_night() -> None:
    odd = night("2026-05-11T19:20:00", "2026-05-12T01:00:00")  # woke at 01:00 last night
    usual = [
        night(f"2026-05-{d - 1:02d}T23:00:00", f"2026-05-{d:02d}T07:00:00") for d in (9, 10, 11)
    ]
    snippet = run([odd, *usual], prefs={"sleep_target_hours": 8})
    assert snippet is not None and snippet.suggestion is not None
    assert snippet.suggestion.endswith("aim to be in bed by 23:00 tonight.")
