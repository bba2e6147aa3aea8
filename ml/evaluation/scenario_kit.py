"""Building blocks of the evaluation scenarios: the scenario spec and signal builders.

Builders place signals relative to the scenario's local time, the way a person describes a
day ("a meeting at 14:00", "checked in the last six days"); the generator writes them out
as absolute times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

T, C, H, S, R = "tasks.read", "calendar.read", "habits.read", "health.read", "reading.read"
ALL = (T, C, H, S, R)


@dataclass
class Spec:
    """One scenario as written here, in the user's local time."""

    id: str
    zone: str
    local: str
    """Local wall-clock time, ``YYYY-MM-DD HH:MM``."""
    description: str
    consents: Sequence[str] = ALL
    context: str | None = None
    preferences: dict[str, Any] = field(default_factory=dict)
    signals: list[dict[str, Any]] = field(default_factory=list)
    cite: Sequence[str] = ()
    mention: Sequence[str | Sequence[str]] = ()
    not_contain: Sequence[str] = ()

    @property
    def now(self) -> datetime:
        return datetime.fromisoformat(self.local).replace(tzinfo=ZoneInfo(self.zone))


def signal(kind: str, external_id: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "kind": kind,
        "external_id": external_id,
        "occurred_at": at.isoformat(),
        "payload": payload,
    }


def clock_time(now: datetime, clock: str, days: int = 0) -> datetime:
    # Wall-clock time on a local day, resolved in the zone (right across DST changes).
    day = now.date() + timedelta(days=days)
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=now.tzinfo)


def task(
    now: datetime,
    n: int,
    title: str | None,
    *,
    due: int | None = 0,
    at: str | None = None,
    priority: int | None = None,
    done: bool | None = None,
) -> dict[str, Any]:
    """A task due ``due`` days from today (at ``at``, local), or without a due date."""
    payload: dict[str, Any] = {} if title is None else {"title": title}
    if due is not None:
        day = now.date() + timedelta(days=due)
        payload["due"] = clock_time(now, at, due).isoformat() if at else day.isoformat()
    if priority is not None:
        payload["priority"] = priority
    if done is not None:
        payload["done"] = done
    return signal("task", f"task-{n}", payload, now - timedelta(days=3, hours=n))


def event(
    now: datetime, n: int, title: str, start: str, minutes: int, *, days: int = 0
) -> dict[str, Any]:
    begins = clock_time(now, start, days)
    payload = {
        "title": title,
        "start": begins.isoformat(),
        "end": (begins + timedelta(minutes=minutes)).isoformat(),
    }
    return signal("calendar_event", f"event-{n}", payload, now - timedelta(days=1, hours=n))


def all_day(now: datetime, n: int, title: str, *, days: int = 1) -> dict[str, Any]:
    payload = {
        "title": title,
        "start": now.date().isoformat(),
        "end": (now.date() + timedelta(days=days)).isoformat(),
        "all_day": True,
    }
    return signal("calendar_event", f"event-{n}", payload, now - timedelta(days=2))


def habit(now: datetime, name: str, days_ago: Iterable[int]) -> list[dict[str, Any]]:
    slug = "-".join(name.lower().split())
    signals = []
    for ago in days_ago:
        day = now.date() - timedelta(days=ago)
        checked = min(clock_time(now, "08:00", -ago), now - timedelta(minutes=5))
        signals.append(
            signal(
                "habit_checkin",
                f"{slug}-{day.isoformat()}",
                {"habit": name, "date": day.isoformat()},
                checked,
            )
        )
    return signals


def sleep(
    now: datetime, bed: str, wake: str, *, history: Sequence[int] = (430, 400, 455, 415)
) -> list[dict[str, Any]]:
    """Last night from ``bed`` (yesterday when after noon) to ``wake`` today, and earlier
    nights of ``history`` minutes each, ending at 07:00."""
    went = clock_time(now, bed, -1 if time.fromisoformat(bed) >= time(12) else 0)
    nights = [(went, clock_time(now, wake))]
    for ago, minutes in enumerate(history, start=1):
        end = clock_time(now, "07:00", -ago)
        nights.append((end - timedelta(minutes=minutes), end))
    return [
        signal("sleep_log", f"sleep-{n}", {"start": s.isoformat(), "end": e.isoformat()}, e)
        for n, (s, e) in enumerate(nights, start=1)
    ]


def article(
    now: datetime, n: int, title: str, minutes: int, *, read: bool = False, saved_days: int = 2
) -> dict[str, Any]:
    saved = now - timedelta(days=saved_days, hours=n)
    payload = {"title": title, "minutes": minutes, "read": read, "saved_at": saved.isoformat()}
    return signal("article", f"article-{n}", payload, saved)


def feedback(
    now: datetime,
    n: int,
    reaction: str,
    tip: str,
    agents: Sequence[str],
    *,
    hours_ago: float,
    snooze_hours: float | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"reaction": reaction, "tip_text": tip, "agents": list(agents)}
    if snooze_hours is not None:
        payload["snooze_until"] = (now + timedelta(hours=snooze_hours)).isoformat()
    return signal("tip_feedback", f"feedback-{n}", payload, now - timedelta(hours=hours_ago))


@dataclass(frozen=True)
class Persona:
    tasks: tuple[str, str, str]
    meetings: tuple[str, str]
    habit: str
    article: tuple[str, int]
    done_tip: str


def everything(now: datetime, p: Persona) -> list[dict[str, Any]]:
    """A full day of signals for every built-in agent, like the demo users'."""
    overdue, today, soon = p.tasks
    first, second = p.meetings
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    # The next hour, but not before 10:00: nobody books a meeting at 02:00.
    start = max(next_hour, clock_time(now, "10:00"))
    later = start + timedelta(hours=3)
    return [
        task(now, 1, overdue, due=-2, priority=1),
        task(now, 2, today, due=0, priority=2),
        task(now, 3, soon, due=2),
        task(now, 4, "Water the plants", due=0, done=True),
        event(now, 1, first, f"{start:%H:%M}", 45, days=(start.date() - now.date()).days),
        event(now, 2, second, f"{later:%H:%M}", 30, days=(later.date() - now.date()).days),
        *habit(now, p.habit, range(1, 6)),
        *(sleep(now, "00:20", "06:40") if now.time() >= time(6, 50) else []),
        article(now, 1, p.article[0], p.article[1]),
        article(now, 2, "A long read on city planning", 35),
        feedback(now, 1, "done", p.done_tip, ["tasks"], hours_ago=26),
    ]
