from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import AgentInput, Signal, Snippet, UserView
from ml.agents.tasks import TasksAgent
from tests.unit.agents.agent_runs import run_agent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)  # Tue 12 May, 10:00 in Paris


def run(
    payloads: Sequence[Mapping[str, Any]],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
) -> Snippet | None:
    params = {"horizon_days": 3} if params is None else params
    return run_agent(TasksAgent(), "task", payloads, now=now, tz=tz, params=params)


def test_lists_overdue_then_today_then_soon_with_counts() -> None:
    snippet = run(
        [
            {"title": "Plan offsite", "due": "2026-05-14"},
            {"title": "Send invoice", "due": "2026-05-10", "priority": 1},
            {"title": "Call dentist", "due": "2026-05-12T14:00:00"},
            {"title": "Pay rent", "due": "2026-05-12", "priority": 2},
            {"title": "Far away", "due": "2026-06-30"},
            {"title": "Already done", "due": "2026-05-11", "done": True},
            {"title": "No due date"},
        ]
    )
    assert snippet is not None
    assert snippet.text == (
        "Open tasks: 1 overdue, 2 due today, 1 due in the next 3 days. Most urgent first:"
        ' "Send invoice" (P1, overdue since Sun 10 May); "Pay rent" (P2, due today);'
        ' "Call dentist" (due today at 14:00); "Plan offsite" (due Thu 14 May).'
    )
    assert snippet.suggestion == 'Finish "Send invoice" first: it has been due since Sun 10 May.'
    assert snippet.facts == {"overdue": 1, "due_today": 2, "due_soon": 1, "horizon_days": 3}


def test_a_timed_task_becomes_overdue_once_its_time_has_passed() -> None:
    snippet = run([{"title": "Stand-up notes", "due": "2026-05-12T09:30:00+02:00"}])
    assert snippet is not None
    assert '"Stand-up notes" (overdue since today at 09:30)' in snippet.text


def test_suggestion_for_a_task_due_today() -> None:
    snippet = run([{"title": "Call dentist", "due": "2026-05-12T16:00:00+02:00"}])
    assert snippet is not None
    assert snippet.suggestion == 'Make time for "Call dentist" now: it is due today at 16:00.'


def test_nothing_due_gives_none() -> None:
    assert run([]) is None
    assert (
        run(
            [
                {"title": "Later", "due": "2026-06-01"},
                {"title": "Done", "due": "2026-05-01", "done": True},
            ]
        )
        is None
    )


def test_today_is_the_users_local_day() -> None:
    # 23:30 UTC on the 11th is already the 12th in Paris, still the 11th in New York.
    late = datetime(2026, 5, 11, 23, 30, tzinfo=UTC)
    payload = [{"title": "Renew passport", "due": "2026-05-12"}]
    paris = run(payload, now=late, tz=PARIS)
    new_york = run(payload, now=late, tz=ZoneInfo("America/New_York"))
    assert paris is not None and "1 due today" in paris.text
    assert new_york is not None and "due tomorrow" in new_york.text


def test_the_latest_signal_of_a_task_wins() -> None:
    signals = [
        Signal("task", "same", {"title": "Report", "due": "2026-05-12"}, NOW - timedelta(days=2)),
        Signal("task", "same", {"title": "Report", "due": "2026-05-12", "done": True}, NOW),
    ]
    inp = AgentInput(UserView("u1", PARIS), NOW, signals, {})
    assert TasksAgent().compute(inp) is None


def test_text_is_stable_between_sweeps() -> None:
    payloads = [
        {"title": "Send invoice", "due": "2026-05-10"},
        {"title": "Call dentist", "due": "2026-05-12T14:00:00+02:00"},
    ]
    first = run(payloads)
    assert first == run(payloads)
    later = run(payloads, now=NOW + timedelta(minutes=10))
    assert later is not None and first is not None and later.text == first.text


@pytest.mark.parametrize(
    "payload",
    [
        {"due": "2026-05-12"},
        {"title": "", "due": "2026-05-12"},
        {"title": 42, "due": "2026-05-12"},
        {"title": "Bad date", "due": "2026-13-45"},
        {"title": "Wrong type", "due": 20260512},
        {"title": "Done as text", "due": "2026-05-12", "done": "no"},
        {"title": "Out of range", "due": "9999-12-31T23:00:00-05:00"},
    ],
)
def test_malformed_tasks_are_skipped(payload: dict[str, Any]) -> None:
    snippet = run([payload, {"title": "Good", "due": "2026-05-12"}])
    assert snippet is not None
    assert snippet.text.startswith("Open tasks: 1 due today.")


def test_bad_priority_falls_back_to_lowest() -> None:
    snippet = run([{"title": "Odd", "due": "2026-05-12", "priority": "urgent"}])
    assert snippet is not None and '"Odd" (due today)' in snippet.text


def test_list_is_bounded_and_the_rest_counted() -> None:
    snippet = run([{"title": f"Task {i} " + "x" * 200, "due": "2026-05-11"} for i in range(40)])
    assert snippet is not None
    assert len(snippet.text) <= 600
    assert snippet.suggestion is not None and len(snippet.suggestion) <= 240
    assert snippet.facts["overdue"] == 40


def test_horizon_param_is_read_with_defaults_and_bounds() -> None:
    payload = [{"title": "Next week", "due": "2026-05-19"}]
    assert run(payload, params={}) is None  # default horizon: 3 days
    assert run(payload, params={"horizon_days": 7}) is not None
    assert run(payload, params={"horizon_days": "seven"}) is None
