from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import Snippet
from ml.agents.habits import HabitsAgent
from tests.unit.agents.agent_runs import run_agent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 16, 0, tzinfo=UTC)  # Tue 12 May, 18:00 in Paris
TODAY = date(2026, 5, 12)


def run(
    payloads: Sequence[Mapping[str, Any]],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
) -> Snippet | None:
    params = {"min_streak": 3} if params is None else params
    return run_agent(HabitsAgent(), "habit_checkin", payloads, now=now, tz=tz, params=params)


def checkins(habit: str, *days_ago: int, today: date = TODAY) -> list[dict[str, Any]]:
    return [{"habit": habit, "date": (today - timedelta(days=n)).isoformat()} for n in days_ago]


def test_longest_streak_at_risk_is_named_first() -> None:
    snippet = run(
        [
            *checkins("Meditate", 1, 2, 3, 4, 5, 6, 7),
            *checkins("Run", 1, 2, 3, 5),
            *checkins("Stretch", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
            *checkins("Journal", 1, 2),
        ]
    )
    assert snippet is not None
    assert snippet.text == (
        'Habit streak at risk: "Meditate" has been checked in 7 days in a row up to yesterday,'
        ' but not yet today. Also at risk: "Run" (3 days).'
    )
    assert snippet.suggestion == (
        'Keep your 7-day "Meditate" streak going: do it today and check in.'
    )
    assert snippet.facts == {"habit": "Meditate", "streak_days": 7, "at_risk": 2}


def test_no_streak_at_risk_gives_none() -> None:
    assert run([*checkins("Stretch", 0, 1, 2, 3), *checkins("Run", 2, 3, 4, 5)]) is None
    assert run([]) is None


def test_names_are_grouped_case_insensitively_with_a_stable_spelling() -> None:
    forward = [
        {"habit": "meditate", "date": "2026-05-11"},
        {"habit": "Meditate", "date": "2026-05-10"},
        {"habit": " MEDITATE ", "date": "2026-05-09"},
    ]
    snippet = run(forward)
    assert snippet is not None and snippet.facts["streak_days"] == 3
    assert snippet == run(list(reversed(forward)))


def test_datetime_check_ins_count_on_the_users_local_day() -> None:
    # 22:30 UTC on the 11th is 00:30 on the 12th in Paris: a check-in for today.
    payloads = [
        *checkins("Read", 1, 2, 3),
        {"habit": "Read", "date": "2026-05-11T22:30:00Z"},
    ]
    assert run(payloads) is None
    assert run(payloads, tz=ZoneInfo("America/New_York")) is not None


def test_today_is_the_users_local_day() -> None:
    # 23:30 UTC on the 12th is the 13th in Paris: the streak up to the 12th is at risk there.
    late = datetime(2026, 5, 12, 23, 30, tzinfo=UTC)
    payloads = checkins("Read", 0, 1, 2)
    assert run(payloads, now=late, tz=ZoneInfo("UTC")) is None
    paris = run(payloads, now=late, tz=PARIS)
    assert paris is not None and paris.facts["streak_days"] == 3


def test_min_streak_param() -> None:
    payloads = checkins("Run", 1, 2)
    assert run(payloads) is None
    assert run(payloads, params={"min_streak": 2}) is not None
    assert run(payloads, params={"min_streak": None}) is None  # default 3


def test_text_is_stable_between_sweeps() -> None:
    payloads = checkins("Meditate", 1, 2, 3)
    first = run(payloads)
    assert first is not None
    assert first == run(payloads, now=NOW + timedelta(minutes=10))


@pytest.mark.parametrize(
    "payload",
    [
        {"date": "2026-05-11"},
        {"habit": "", "date": "2026-05-11"},
        {"habit": ["Meditate"], "date": "2026-05-11"},
        {"habit": "Meditate"},
        {"habit": "Meditate", "date": "yesterday"},
        {"habit": "Meditate", "date": 20260511},
    ],
)
def test_malformed_check_ins_are_skipped(payload: dict[str, Any]) -> None:
    good = checkins("Meditate", 2, 3, 4)
    # Only a valid check-in for yesterday would have put this streak at risk.
    assert run([*good, payload]) is None


def test_others_are_bounded() -> None:
    payloads = [c for i in range(50) for c in checkins(f"Habit {i} " + "x" * 80, 1, 2, 3)]
    snippet = run(payloads)
    assert snippet is not None
    assert len(snippet.text) <= 600
    assert snippet.facts["at_risk"] == 50
