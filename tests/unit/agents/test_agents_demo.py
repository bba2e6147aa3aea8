from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from ml.agents.base import SNIPPET_MAX_CHARS, Agent, AgentInput, Signal, Snippet, UserView
from ml.agents.template import TemplateAgent
from nudge.demo.data import demo_signals, demo_users

MANIFESTS = Path(__file__).parents[3] / "manifests"
AGENTS = ["tasks", "calendar", "habits", "focus", "feedback_history", "sleep", "reading_list"]
SAMPLE_TIMES = [
    datetime(2026, 5, 12, 3, 0, tzinfo=UTC),
    datetime(2026, 5, 12, 8, 5, tzinfo=UTC),
    datetime(2026, 5, 12, 12, 30, tzinfo=UTC),
    datetime(2026, 5, 12, 17, 45, tzinfo=UTC),
    datetime(2026, 3, 29, 23, 30, tzinfo=UTC),
]


def build(agent_id: str) -> tuple[Agent, dict[str, object], list[str]]:
    manifest = yaml.safe_load((MANIFESTS / f"{agent_id}.yaml").read_text())
    params = {name: spec["default"] for name, spec in manifest.get("params", {}).items()}
    if "template" in manifest:
        agent: Agent = TemplateAgent(manifest["template"], agent_id=agent_id)
    else:
        module, _, name = manifest["entrypoint"].partition(":")
        agent = getattr(importlib.import_module(module), name)()
    return agent, params, manifest["reads"]


def run_demo(agent_id: str, user_id: str, now: datetime) -> Snippet | None:
    user = next(u for u in demo_users() if u.user_id == user_id)
    agent, params, reads = build(agent_id)
    signals = [Signal(**s) for s in demo_signals(user_id, now) if s["kind"] in reads]
    view = UserView(user.user_id, ZoneInfo(user.timezone), user.preferences)
    return agent.compute(AgentInput(view, now, signals, params))


def test_demo_users() -> None:
    alice, bob = demo_users()
    assert (alice.user_id, alice.timezone, alice.active_context) == ("alice", "Europe/Paris", None)
    assert sorted(alice.granted) == [
        "calendar.read",
        "habits.read",
        "health.read",
        "reading.read",
        "tasks.read",
    ]
    assert (bob.user_id, bob.timezone, bob.active_context) == (
        "bob",
        "America/New_York",
        "vacation",
    )
    assert sorted(bob.granted) == ["habits.read", "health.read", "reading.read", "tasks.read"]


@pytest.mark.parametrize("user_id", ["alice", "bob"])
def test_demo_signals_cover_every_kind_with_aware_times(user_id: str) -> None:
    now = SAMPLE_TIMES[1]
    signals = demo_signals(user_id, now)
    kinds = {s["kind"] for s in signals}
    assert kinds == {
        "task",
        "calendar_event",
        "habit_checkin",
        "sleep_log",
        "tip_feedback",
        "article",
    }
    assert all(s["occurred_at"].tzinfo is not None for s in signals)
    assert len({(s["kind"], s["external_id"]) for s in signals}) == len(signals)
    assert demo_signals(user_id, now) == signals
    assert demo_signals("nobody", now) == []


@pytest.mark.parametrize("now", SAMPLE_TIMES, ids=lambda t: t.isoformat())
@pytest.mark.parametrize("user_id", ["alice", "bob"])
@pytest.mark.parametrize(
    "agent_id", ["tasks", "calendar", "habits", "feedback_history", "sleep", "reading_list"]
)
def test_demo_always_gives_these_agents_something_to_say(
    agent_id: str, user_id: str, now: datetime
) -> None:
    snippet = run_demo(agent_id, user_id, now)
    assert snippet is not None
    assert len(snippet.text) <= SNIPPET_MAX_CHARS


def test_demo_tells_the_story_it_is_meant_to() -> None:
    now = SAMPLE_TIMES[1]  # 10:05 in Paris
    tasks = run_demo("tasks", "alice", now)
    calendar = run_demo("calendar", "alice", now)
    habits = run_demo("habits", "alice", now)
    sleep = run_demo("sleep", "alice", now)
    reading = run_demo("reading_list", "alice", now)
    focus = run_demo("focus", "alice", now)
    assert tasks is not None and tasks.facts["due_today"] >= 1 and tasks.facts["overdue"] >= 1
    assert calendar is not None and "Next meeting" in calendar.text and "today" in calendar.text
    assert habits is not None and habits.facts["streak_days"] >= 3
    assert sleep is not None and sleep.facts["short_night"] is True
    assert reading is not None and reading.suggestion is not None
    assert focus is not None
