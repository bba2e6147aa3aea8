from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import Snippet
from ml.agents.calendar import CalendarAgent
from tests.unit.agents.agent_runs import run_agent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 8, 5, tzinfo=UTC)  # Tue 12 May, 10:05 in Paris


def run(
    payloads: Sequence[Mapping[str, Any]],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
    prefs: Mapping[str, Any] | None = None,
) -> Snippet | None:
    params = {"horizon_hours": 12, "min_free_minutes": 30} if params is None else params
    return run_agent(
        CalendarAgent(), "calendar_event", payloads, now=now, tz=tz, params=params, prefs=prefs
    )


def event(title: str, start: str, end: str) -> dict[str, Any]:
    return {
        "title": title,
        "start": f"2026-05-12T{start}:00+02:00",
        "end": f"2026-05-12T{end}:00+02:00",
    }


DAY = [
    event("Stand-up", "09:30", "09:45"),
    event("Design review", "11:00", "12:00"),
    event("Lunch with Sam", "12:00", "13:00"),
    event("1:1", "15:00", "15:20"),
]


def test_next_meeting_and_free_slots_in_working_hours() -> None:
    snippet = run(DAY)
    assert snippet is not None
    assert snippet.text == (
        'Next meeting: "Design review" today 11:00–12:00. Free slots of 30 min or more in'
        " working hours in the next 12 h: now until 11:00; today 13:00–15:00;"
        " today 15:20–18:00."
    )
    assert snippet.suggestion == (
        "You are free until 11:00: use that time for your most important task."
    )
    assert snippet.facts["next_meeting_at"] == "2026-05-12T11:00:00+02:00"
    assert snippet.facts["free_slots"] == 3


def test_meeting_under_way_and_all_day_event() -> None:
    payloads = [
        *DAY,
        {"title": "Conference", "start": "2026-05-11", "end": "2026-05-13", "all_day": True},
    ]
    snippet = run(payloads, now=datetime(2026, 5, 12, 9, 10, tzinfo=UTC))  # 11:10 local
    assert snippet is not None
    assert snippet.text.startswith(
        'Now in "Design review" until 12:00. Next meeting: "Lunch with Sam" today 12:00–13:00.'
        ' All day today: "Conference".'
    )


def test_short_gaps_are_not_free_slots() -> None:
    snippet = run(DAY, params={"horizon_hours": 12, "min_free_minutes": 120})
    assert snippet is not None
    assert "now until" not in snippet.text  # only 55 minutes left before the review
    assert "today 15:20–18:00" in snippet.text


def test_the_horizon_limits_what_is_shown() -> None:
    near = run(DAY, params={"horizon_hours": 1, "min_free_minutes": 30})
    assert near is not None
    assert near.text.endswith("in the next 1 h: now until 11:00.")
    far = run(DAY, params={"horizon_hours": 24, "min_free_minutes": 30})
    assert far is not None
    assert far.text.endswith("today 15:20–18:00; tomorrow 09:00–18:00.")


def test_working_hours_come_from_preferences() -> None:
    snippet = run(DAY, prefs={"work_start": "08:00", "work_end": "16:00"})
    assert snippet is not None
    assert snippet.text.endswith("now until 11:00; today 13:00–15:00; today 15:20–16:00.")


def test_bad_working_hours_fall_back_to_defaults() -> None:
    snippet = run(DAY, prefs={"work_start": "25:00", "work_end": 9})
    default = run(DAY)
    assert snippet is not None and default is not None and snippet.text == default.text


def test_evening_looks_at_tomorrow_morning_in_local_time() -> None:
    # 23:30 UTC is 01:30 the next day in Paris: "today" is already the 13th there.
    snippet = run(
        [
            {
                "title": "Board",
                "start": "2026-05-13T10:00:00+02:00",
                "end": "2026-05-13T11:00:00+02:00",
            }
        ],
        now=datetime(2026, 5, 12, 23, 30, tzinfo=UTC),
    )
    assert snippet is not None
    assert snippet.text.startswith('Next meeting: "Board" today 10:00–11:00.')
    assert "today 09:00–10:00" in snippet.text


def test_nothing_ahead_gives_none() -> None:
    # 19:00 local with a 1-hour horizon: no meeting, no working hours left.
    assert (
        run(DAY, now=datetime(2026, 5, 12, 17, 0, tzinfo=UTC), params={"horizon_hours": 1}) is None
    )


def test_text_is_stable_between_sweeps() -> None:
    first = run(DAY)
    assert first == run(DAY)
    later = run(DAY, now=NOW + timedelta(minutes=10))
    assert first is not None and later is not None and later.text == first.text


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "No end", "start": "2026-05-12T13:00:00+02:00"},
        {
            "title": "Backwards",
            "start": "2026-05-12T14:00:00+02:00",
            "end": "2026-05-12T13:00:00+02:00",
        },
        {"title": "Garbage", "start": "soon", "end": "later"},
        {"title": "Numbers", "start": 1, "end": 2},
        {
            "title": "Odd flag",
            "start": "2026-05-12T13:00:00+02:00",
            "end": "2026-05-12T14:00:00+02:00",
            "all_day": "yes",
        },
        {"title": "Bad all-day", "all_day": True, "start": "nope"},
    ],
)
def test_malformed_events_are_skipped(payload: dict[str, Any]) -> None:
    first = run([*DAY, payload])
    assert first == run(DAY)


def test_untitled_events_still_block_time() -> None:
    snippet = run([{"start": "2026-05-12T13:00:00+02:00", "end": "2026-05-12T18:00:00+02:00"}])
    assert snippet is not None
    assert snippet.text == (
        'Next meeting: "Untitled event" today 13:00–18:00. Free slots of 30 min or more in'
        " working hours in the next 12 h: now until 13:00."
    )
