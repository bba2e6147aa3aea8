"""Two demo users, alice and bob, and signals that always give every agent something to say.

Signals are placed relative to ``now`` in each user's local time: tasks overdue and due
today, meetings later today, a habit streak at risk, a short night, unread articles and
reactions to earlier tips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_ALL_CONSENTS = ["tasks.read", "calendar.read", "habits.read", "health.read", "reading.read"]


@dataclass(frozen=True, slots=True)
class DemoUser:
    user_id: str
    timezone: str
    preferences: dict[str, Any] = field(default_factory=dict)
    granted: list[str] = field(default_factory=list)
    active_context: str | None = None


@dataclass(frozen=True, slots=True)
class _Persona:
    tasks: tuple[str, str, str, str]
    meetings: tuple[str, str, str]
    all_day: str
    habits: tuple[str, str, str]
    articles: tuple[tuple[str, int], ...]
    tips: tuple[str, str, str]


_PERSONAS = {
    "alice": _Persona(
        tasks=(
            "Send the Q3 invoice",
            "Review Marc's pull request",
            "Book train to Lyon",
            "Renew passport",
        ),
        meetings=("Team stand-up", "Design review", "1:1 with Sam"),
        all_day="Sprint planning week",
        habits=("Meditate", "Run", "Stretch"),
        articles=(
            ("How to run better meetings", 6),
            ("The case for single-tasking", 12),
            ("A field guide to technical debt", 25),
            ("Why we sleep less in spring", 9),
        ),
        tips=(
            "Block 30 minutes this morning to clear your inbox.",
            "Take a 10-minute walk after lunch.",
            "Prepare three questions for the design review.",
        ),
    ),
    "bob": _Persona(
        tasks=(
            "File the expense report",
            "Call the plumber",
            "Buy a birthday gift",
            "Update resume",
        ),
        meetings=("Vendor call", "Budget sync", "Coffee with Priya"),
        all_day="Out of office",
        habits=("Read 20 pages", "Practice guitar", "Journal"),
        articles=(
            ("Travel light: a packing list", 8),
            ("Slow mornings, better days", 14),
            ("The economics of vacations", 30),
            ("Ten hikes near the coast", 5),
        ),
        tips=(
            "Spend 15 minutes on the expense report before lunch.",
            "Practice guitar for 20 minutes tonight.",
            "Call the plumber before 17:00.",
        ),
    ),
}


def demo_users() -> list[DemoUser]:
    return [
        DemoUser(
            user_id="alice",
            timezone="Europe/Paris",
            preferences={
                "work_start": "09:00",
                "work_end": "18:00",
                "focus_minutes": 90,
                "sleep_target_hours": 7.5,
            },
            granted=list(_ALL_CONSENTS),
            active_context=None,
        ),
        DemoUser(
            user_id="bob",
            timezone="America/New_York",
            preferences={
                "work_start": "08:30",
                "work_end": "17:00",
                "focus_minutes": 60,
                "sleep_target_hours": 8,
            },
            granted=[c for c in _ALL_CONSENTS if c != "calendar.read"],
            active_context="vacation",
        ),
    ]


def demo_signals(user_id: str, now: datetime) -> list[dict[str, Any]]:
    """Signal dicts {kind, external_id, payload, occurred_at}; [] for an unknown user."""
    user = next((u for u in demo_users() if u.user_id == user_id), None)
    persona = _PERSONAS.get(user_id)
    if user is None or persona is None:
        return []
    local_now = now.astimezone(ZoneInfo(user.timezone))
    return [
        *_tasks(persona, local_now),
        *_calendar(persona, local_now),
        *_habits(persona, local_now),
        *_sleep(local_now),
        *_feedback(persona, local_now),
        *_articles(persona, local_now),
    ]


def _signal(kind: str, external_id: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"kind": kind, "external_id": external_id, "payload": payload, "occurred_at": at}


def _at(day: date, clock: time, like: datetime) -> datetime:
    return datetime.combine(day, clock, tzinfo=like.tzinfo)


def _tasks(persona: _Persona, now: datetime) -> list[dict[str, Any]]:
    today = now.date()
    overdue, due_today, due_tomorrow, done = persona.tasks
    tomorrow_morning = _at(today + timedelta(days=1), time(10), now)
    created = now - timedelta(days=3)
    return [
        _signal(
            "task",
            "task-1",
            {"title": overdue, "due": (today - timedelta(days=2)).isoformat(), "priority": 1},
            created,
        ),
        _signal(
            "task",
            "task-2",
            {"title": due_today, "due": today.isoformat(), "done": False, "priority": 2},
            created,
        ),
        _signal(
            "task", "task-3", {"title": due_tomorrow, "due": tomorrow_morning.isoformat()}, created
        ),
        _signal(
            "task",
            "task-4",
            {"title": done, "due": today.isoformat(), "done": True},
            now - timedelta(hours=1),
        ),
        _signal("task", "task-5", {"title": "Someday: learn Rust", "done": False}, created),
    ]


def _calendar(persona: _Persona, now: datetime) -> list[dict[str, Any]]:
    today = now.date()
    standup, review, one_on_one = persona.meetings
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    # In working hours when the day allows it, and always still ahead.
    review_start = max(next_hour + timedelta(hours=1), _at(today, time(11), now))
    later_start = review_start + timedelta(hours=3)
    booked = now - timedelta(days=1)
    return [
        _signal(
            "calendar_event", "event-1", _event(standup, _at(today, time(9, 30), now), 15), booked
        ),
        _signal("calendar_event", "event-2", _event(review, review_start, 60), booked),
        _signal("calendar_event", "event-3", _event(one_on_one, later_start, 30), booked),
        _signal(
            "calendar_event",
            "event-4",
            {
                "title": persona.all_day,
                "start": today.isoformat(),
                "end": (today + timedelta(days=1)).isoformat(),
                "all_day": True,
            },
            booked,
        ),
    ]


def _event(title: str, start: datetime, minutes: int) -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    return {"title": title, "start": start.isoformat(), "end": end.isoformat()}


def _habits(persona: _Persona, now: datetime) -> list[dict[str, Any]]:
    today = now.date()
    at_risk, short_streak, done_today = persona.habits
    days = {
        at_risk: [today - timedelta(days=n) for n in range(1, 7)],
        short_streak: [today - timedelta(days=n) for n in (1, 2, 3, 5)],
        done_today: [today - timedelta(days=n) for n in range(0, 4)],
    }
    return [
        _signal(
            "habit_checkin",
            f"checkin-{habit_index}-{day.isoformat()}",
            {"habit": habit, "date": day.isoformat()},
            min(_at(day, time(8), now), now),
        )
        for habit_index, (habit, checkins) in enumerate(days.items(), start=1)
        for day in checkins
    ]


def _sleep(now: datetime) -> list[dict[str, Any]]:
    # Last night is short; the nights before it give an average to compare with.
    woke = min(_at(now.date(), time(6, 30), now), now - timedelta(minutes=10))
    nights = [(woke - timedelta(hours=5, minutes=40), woke)]
    for days_ago, minutes in ((1, 420), (2, 380), (3, 460), (4, 410)):
        end = _at(now.date() - timedelta(days=days_ago), time(7), now)
        nights.append((end - timedelta(minutes=minutes), end))
    return [
        _signal("sleep_log", f"sleep-{n}", {"start": s.isoformat(), "end": e.isoformat()}, e)
        for n, (s, e) in enumerate(nights, start=1)
    ]


def _feedback(persona: _Persona, now: datetime) -> list[dict[str, Any]]:
    done, dismissed, snoozed = persona.tips
    snooze_until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    return [
        _signal(
            "tip_feedback",
            "feedback-1",
            {"reaction": "done", "tip_text": done, "agents": ["tasks"]},
            now - timedelta(days=1),
        ),
        _signal(
            "tip_feedback",
            "feedback-2",
            {"reaction": "dismiss", "tip_text": dismissed, "agents": ["habits"]},
            now - timedelta(hours=2),
        ),
        _signal(
            "tip_feedback",
            "feedback-3",
            {
                "reaction": "snooze",
                "tip_text": snoozed,
                "agents": ["calendar"],
                "snooze_until": snooze_until.isoformat(),
            },
            now - timedelta(hours=1),
        ),
    ]


def _articles(persona: _Persona, now: datetime) -> list[dict[str, Any]]:
    signals = []
    for index, (title, minutes) in enumerate(persona.articles, start=1):
        saved = now - timedelta(days=2 * index)
        payload = {
            "title": title,
            "minutes": minutes,
            "read": index == 2,
            "saved_at": saved.isoformat(),
        }
        signals.append(_signal("article", f"article-{index}", payload, saved))
    return signals
