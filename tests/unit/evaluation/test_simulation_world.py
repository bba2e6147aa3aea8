from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from ml.agents.base import Agent, AgentInput, Result, Signal, Snippet, UserView
from ml.agents.calendar import CalendarAgent
from ml.agents.focus import FocusAgent
from ml.agents.habits import HabitsAgent
from ml.agents.sleep import SleepAgent
from ml.agents.tasks import TasksAgent
from ml.agents.template import TemplateAgent
from ml.evaluation.simulation.people import (
    DISMISS_PROBABILITY,
    IGNORE_PROBABILITY,
    SNOOZE_PROBABILITY,
    SimUser,
    population,
    react,
)
from ml.evaluation.simulation.tastes import Taste, acceptance, daypart, draw_tastes
from ml.evaluation.simulation.world import SimSignal, World

AGENTS = ("tasks", "calendar", "focus", "habits", "sleep", "reading_list")
# A Monday; Berlin, New York, London and Sydney change their clocks in the next 14 days.
START = date(2026, 3, 23)
REPO = Path(__file__).resolve().parents[3]


def days(world: World, count: int) -> list[SimSignal]:
    return [s for n in range(count) for s in world.signals_for_day(START + timedelta(days=n))]


def run(agent: Agent, user: SimUser, signals: list[SimSignal], now: datetime) -> Snippet | None:
    arrived = [
        Signal(s.kind, s.external_id, s.payload, s.occurred_at)
        for s in signals
        if s.occurred_at <= now
    ]
    out = agent.compute(AgentInput(UserView(user.user_id, user.timezone), now, arrived, {}))
    return out.snippet if isinstance(out, Result) else out


def test_the_same_seed_gives_the_same_users_tastes_and_signals() -> None:
    first, second = population(6, 7, AGENTS, START), population(6, 7, AGENTS, START)
    assert [(u.user_id, u.timezone, u.taste) for u in first] == [
        (u.user_id, u.timezone, u.taste) for u in second
    ]
    assert [days(u.world, 10) for u in first] == [days(u.world, 10) for u in second]
    other = population(6, 8, AGENTS, START)
    assert [u.taste for u in other] != [u.taste for u in first]


def test_the_order_agents_are_listed_in_does_not_change_the_taste() -> None:
    forward = draw_tastes(AGENTS, random.Random(3))
    assert draw_tastes(tuple(reversed(AGENTS)), random.Random(3)) == forward


def test_every_agent_is_the_favourite_of_about_one_user_in_k() -> None:
    users = population(3000, 11, AGENTS, START)
    counts = Counter(u.taste.favourite for u in users)
    expected = len(users) / len(AGENTS)
    chi_square = sum((counts[a] - expected) ** 2 / expected for a in AGENTS)
    assert chi_square < 20.5  # the 0.999 quantile of chi-square with 5 degrees of freedom
    for user in users[:300]:
        taste = user.taste
        assert 0.55 <= taste.acceptance[taste.favourite] <= 0.85
        assert all(0.03 <= p <= 0.2 for a, p in taste.acceptance.items() if a != taste.favourite)
        assert 0.4 <= taste.off_peak_factor <= 0.8
    assert {u.taste.peak for u in users} == {"morning", "afternoon", "evening"}
    assert {str(u.timezone) for u in users[:2]} == {"Europe/Berlin", "America/New_York"}


def test_acceptance_is_full_at_the_peak_and_scaled_off_it() -> None:
    taste = Taste("focus", {"focus": 0.7, "tasks": 0.1}, "afternoon", 0.5)
    assert [daypart(h) for h in (0, 4, 5, 11, 12, 16, 17, 23)] == [
        "evening",
        "evening",
        "morning",
        "morning",
        "afternoon",
        "afternoon",
        "evening",
        "evening",
    ]
    assert acceptance(taste, "focus", 14) == 0.7
    assert acceptance(taste, "focus", 9) == pytest.approx(0.35)
    assert acceptance(taste, "tasks", 20) == pytest.approx(0.05)
    assert acceptance(taste, "unknown", 14) == 0.0


def test_each_content_agent_has_something_to_say_on_a_weekday() -> None:
    users = population(12, 42, AGENTS, START)
    manifest = yaml.safe_load((REPO / "manifests" / "reading_list.yaml").read_text())
    reading_list = TemplateAgent(manifest["template"], agent_id="reading_list")
    spoke: Counter[str] = Counter()
    thursday = START + timedelta(days=10)  # after Europe's clock change
    for user in users:
        signals = days(user.world, 11)
        now = datetime.combine(thursday, time(9, 30), tzinfo=user.timezone).astimezone(UTC)
        for name, agent in (
            ("tasks", TasksAgent()),
            ("calendar", CalendarAgent()),
            ("focus", FocusAgent()),
            ("habits", HabitsAgent()),
            ("sleep", SleepAgent()),
            ("reading_list", reading_list),
        ):
            spoke[name] += run(agent, user, signals, now) is not None
    assert spoke["tasks"] == spoke["calendar"] == spoke["focus"] == spoke["sleep"] == len(users)
    assert spoke["habits"] >= len(users) // 2
    assert spoke["reading_list"] >= 1


def test_signals_are_in_utc_and_each_task_is_sent_once_then_once_finished() -> None:
    world = population(1, 5, AGENTS, START)[0].world
    signals = days(world, 20)
    assert all(s.occurred_at.tzinfo is UTC for s in signals)
    tasks = [s for s in signals if s.kind == "task"]
    sent = Counter((s.external_id, s.payload["done"]) for s in tasks)
    assert set(sent.values()) == {1}
    created = {i for i, done in sent if not done}
    assert {i for i, done in sent if done} <= created
    assert {s.external_id for s in world.open_tasks()} == {
        i for i in created if (i, True) not in sent
    }
    weekdays = [START + timedelta(days=n) for n in range(20)]
    events = Counter(s.external_id[3:13] for s in signals if s.kind == "calendar_event")
    for day in weekdays:
        low, high = (2, 5) if day.weekday() < 5 else (0, 1)
        assert low <= events[day.isoformat()] <= high


def test_complete_finishes_a_task_once() -> None:
    world = World("u1", ZoneInfo("Europe/Berlin"), START, random.Random(1))
    created = days(world, 3)
    task = world.open_tasks()[0]
    at = datetime(2026, 3, 25, 17, 0, tzinfo=UTC)
    sent = world.complete(f"task:{task.external_id}", at)
    assert sent == [
        SimSignal("task", task.external_id, {**task.payload, "done": True}, at),
    ]
    assert task not in world.open_tasks()
    assert world.complete(f"task:{task.external_id}", at) == []
    assert world.complete("task:nope", at) == []
    assert world.complete("calendar_event:ev-2026-03-23-1", at) == []
    later = [s for n in range(3, 30) for s in world.signals_for_day(START + timedelta(days=n))]
    assert all(s.external_id != task.external_id for s in later)
    assert created == days(world, 3)


def test_complete_checks_a_habit_in_today_and_not_again_tomorrow() -> None:
    world = World("u1", ZoneInfo("America/New_York"), START, random.Random(2))
    days(world, 2)
    name = world.habits[0][0]
    at = datetime(2026, 3, 24, 23, 30, tzinfo=UTC)  # 19:30 in New York
    (checkin,) = world.complete(f"habit:{name.upper()}", at)
    assert checkin.payload == {"habit": name, "date": "2026-03-24"}
    assert world.complete(f"habit:{name}", at) == []
    tomorrow = world.signals_for_day(START + timedelta(days=2))
    assert checkin.external_id not in {s.external_id for s in tomorrow}


def test_what_the_user_finishes_does_not_change_what_arrives() -> None:
    idle, busy = population(3, 9, AGENTS, START), population(3, 9, AGENTS, START)
    for a, b in zip(idle, busy, strict=True):
        quiet, finished = [], []
        for n in range(14):
            day = START + timedelta(days=n)
            quiet += a.world.signals_for_day(day)
            finished += b.world.signals_for_day(day)
            at = datetime.combine(day, time(22), tzinfo=b.timezone)
            for task in b.world.open_tasks()[::2]:
                b.world.complete(f"task:{task.external_id}", at)

        def arrivals(signals: list[SimSignal]) -> list[SimSignal]:
            return [s for s in signals if not s.payload.get("done")]

        assert arrivals(quiet) == arrivals(finished)


def test_days_are_asked_for_in_order() -> None:
    world = World("u1", ZoneInfo("Asia/Tokyo"), START, random.Random(3))
    first = world.signals_for_day(START + timedelta(days=1))
    assert world.signals_for_day(START + timedelta(days=1)) == first
    with pytest.raises(ValueError):
        world.signals_for_day(START)


def test_reactions_follow_the_documented_probabilities() -> None:
    taste = Taste("tasks", {"tasks": 0.6}, "morning", 0.5)
    rng = random.Random(4)
    draws = 20_000
    reactions = [
        react(taste, agent_id="tasks", local_hour=8, is_fallback_nothing=False, rng=rng)
        for _ in range(draws)
    ]
    share = Counter(r.kind for r in reactions)
    rest = 1 - 0.6
    assert share["done"] / draws == pytest.approx(0.6, abs=0.015)
    assert share["dismiss"] / draws == pytest.approx(rest * DISMISS_PROBABILITY, abs=0.015)
    assert share["snooze"] / draws == pytest.approx(rest * SNOOZE_PROBABILITY, abs=0.015)
    assert share["ignore"] / draws == pytest.approx(rest * IGNORE_PROBABILITY, abs=0.015)
    assert {r.snooze_hours for r in reactions if r.kind == "snooze"} == {2, 3, 4, 5, 6}
    assert {r.snooze_hours for r in reactions if r.kind != "snooze"} == {None}
    evening = [
        react(taste, agent_id="tasks", local_hour=20, is_fallback_nothing=False, rng=rng)
        for _ in range(draws)
    ]
    assert sum(r.kind == "done" for r in evening) / draws == pytest.approx(0.3, abs=0.015)


def test_nothing_to_say_and_uncited_tips_are_ignored() -> None:
    taste = Taste("tasks", {"tasks": 1.0}, "morning", 1.0)
    rng = random.Random(5)
    assert react(taste, agent_id="tasks", local_hour=8, is_fallback_nothing=True, rng=rng).kind == (
        "ignore"
    )
    assert react(taste, agent_id=None, local_hour=8, is_fallback_nothing=False, rng=rng).kind == (
        "ignore"
    )


def test_a_user_reacts_the_same_way_in_the_same_situation_whatever_came_before() -> None:
    first, second = population(4, 13, AGENTS, START), population(4, 13, AGENTS, START)
    moments = [datetime(2026, 3, 24, h, tzinfo=UTC) for h in range(24)]
    for a, b in zip(first, second, strict=True):
        b.react(agent_id="tasks", at=moments[0], is_fallback_nothing=False)  # an extra tip
        favourite = a.taste.favourite
        for at in moments:
            assert a.react(agent_id=favourite, at=at, is_fallback_nothing=False) == b.react(
                agent_id=favourite, at=at.astimezone(b.timezone), is_fallback_nothing=False
            )
