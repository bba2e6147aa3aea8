from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ml.agents.base import Snippet
from ml.agents.focus import FocusAgent
from tests.unit.agents.agent_runs import run_agent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 7, 5, tzinfo=UTC)  # Tue 12 May, 09:05 in Paris


def run(
    payloads: Sequence[Mapping[str, Any]],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
    prefs: Mapping[str, Any] | None = None,
) -> Snippet | None:
    params = {"focus_minutes": 90} if params is None else params
    return run_agent(
        FocusAgent(), "calendar_event", payloads, now=now, tz=tz, params=params, prefs=prefs
    )


def event(start: str, end: str, day: str = "2026-05-12") -> dict[str, Any]:
    return {"title": "Busy", "start": f"{day}T{start}:00+02:00", "end": f"{day}T{end}:00+02:00"}


DAY = [
    event("09:30", "09:45"),
    event("11:00", "12:00"),
    event("13:00", "13:30"),
    event("16:30", "17:00"),
]


def test_windows_long_enough_within_working_hours() -> None:
    snippet = run(DAY)
    assert snippet is not None
    assert snippet.text == (
        "Deep-work windows left today (1 h 30 min or more free within working hours"
        " 09:00–18:00): 13:30–16:30 (3 h)."
    )
    assert snippet.suggestion == (
        "Block 13:30–16:30 today for deep work on your most important task and silence"
        " notifications."
    )
    assert snippet.facts == {"focus_minutes": 90, "windows": [["13:30", "16:30"]]}


def test_the_preference_wins_over_the_param() -> None:
    snippet = run(DAY, prefs={"focus_minutes": 60})
    assert snippet is not None
    assert "(1 h or more free" in snippet.text
    assert snippet.text.endswith(
        "): 09:45–11:00 (1 h 15 min); 12:00–13:00 (1 h); 13:30–16:30 (3 h); 17:00–18:00 (1 h)."
    )


def test_a_window_under_way_reads_now_until() -> None:
    snippet = run(DAY, now=datetime(2026, 5, 12, 11, 40, tzinfo=UTC))  # 13:40 local
    assert snippet is not None
    assert snippet.text.endswith("): now until 16:30.")
    assert snippet.suggestion is not None and snippet.suggestion.startswith(
        "Start a deep-work block now and keep it until 16:30"
    )
    # The window's facts keep its full extent, so they do not drift either.
    assert snippet.facts["windows"] == [["13:30", "16:30"]]


def test_too_little_left_of_a_window_is_not_offered() -> None:
    # 15:30 local: one hour left before 16:30, under the 90 minutes asked.
    assert run(DAY, now=datetime(2026, 5, 12, 13, 30, tzinfo=UTC)) is None


def test_after_working_hours_gives_none() -> None:
    assert run([], now=datetime(2026, 5, 12, 16, 30, tzinfo=UTC)) is None


def test_empty_day_is_one_window_until_the_end_of_work() -> None:
    snippet = run([], now=datetime(2026, 5, 12, 10, 0, tzinfo=UTC))
    assert snippet is not None and snippet.text.endswith("): now until 18:00.")


def test_today_is_the_users_local_day() -> None:
    # 23:30 UTC on the 11th is 01:30 on the 12th in Paris: today's windows are the 12th's.
    snippet = run(DAY, now=datetime(2026, 5, 11, 23, 30, tzinfo=UTC))
    assert snippet is not None
    assert "09:00–09:30" not in snippet.text  # 30 min, too short
    assert "13:30–16:30 (3 h)" in snippet.text


def test_other_days_events_do_not_matter() -> None:
    snippet = run([*DAY, event("13:00", "18:00", day="2026-05-13")])
    assert snippet == run(DAY)


def test_text_is_stable_between_sweeps() -> None:
    later_now = datetime(2026, 5, 12, 11, 40, tzinfo=UTC)
    first = run(DAY, now=later_now)
    assert first == run(DAY, now=later_now)
    assert first == run(DAY, now=later_now + timedelta(minutes=10))


def test_malformed_events_are_skipped() -> None:
    junk: list[Mapping[str, Any]] = [
        {"start": "2026-05-12T13:30:00+02:00"},
        {"start": "2026-05-12T15:00:00+02:00", "end": "2026-05-12T14:00:00+02:00"},
        {"start": ["x"], "end": {"y": 1}},
        {"start": "2026-05-12T14:00:00+02:00", "end": "2026-05-12T15:00:00+02:00", "all_day": 1},
    ]
    assert run([*DAY, *junk]) == run(DAY)


def test_all_day_events_do_not_block_focus_time() -> None:
    holiday = {"title": "Team offsite", "start": "2026-05-12", "end": "2026-05-13", "all_day": True}
    assert run([*DAY, holiday]) == run(DAY)
