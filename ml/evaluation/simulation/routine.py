"""One day of a synthetic user's life, as the signals their apps send.

Payloads follow the shapes the agents read (``ml.agents.tasks``, ``ml.agents.calendar``,
``ml.agents.habits``, ``ml.agents.sleep`` and the ``reading_list`` manifest). Times are
drawn on the user's local clock and converted through the time zone, so durations stay
right across daylight-saving changes.

What one day holds:

- calendar (synced at 00:05 local): on a weekday 2-5 meetings of 30, 45 or 60 min between
  09:00 and 18:00, never inside one protected two-hour block (so a deep-work window and
  free slots always exist); on a weekend 0-1 social event between 10:00 and 17:00;
- last night's sleep, logged at wake-up (06:00-09:00): 7-8.5 h, or with probability 0.25
  a short night of 4.5-6.25 h;
- habit check-ins for yesterday, synced at 07:00-08:55: each habit was done with the
  user's own consistency (0.75-0.95), so 1-2 of two habits on most days;
- 1-2 new tasks (08:00-19:55), due 0-4 days ahead, priority 1-4 (weights 1:2:3:4); left
  alone, the user finishes 70 % of them between the next day and two days after the due
  date, the rest 3-10 days late;
- with probability 0.3 a saved article of 3-25 min (09:00-21:55), read 1-7 days later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MEETINGS: tuple[str, ...] = (
    "Team standup",
    "Design review",
    "1:1 with Sam",
    "Customer call",
    "Sprint planning",
    "Budget review",
    "Interview",
    "Project sync",
    "Hiring debrief",
    "Roadmap review",
)
WEEKEND_EVENTS: tuple[str, ...] = (
    "Brunch with friends",
    "Football practice",
    "Family lunch",
    "Climbing gym",
)
HABITS: tuple[str, ...] = (
    "Meditate",
    "Stretch",
    "Journal",
    "Read",
    "Run",
    "Practice Spanish",
    "Guitar",
)
TASK_TITLES: tuple[str, ...] = (
    "Send invoice",
    "Book dentist appointment",
    "Review pull request",
    "Renew passport",
    "Call the bank",
    "Prepare slides for Monday",
    "Pay electricity bill",
    "Reply to Anna",
    "Order printer ink",
    "Plan weekend trip",
    "File expense report",
    "Update CV",
    "Fix the bike",
    "Write quarterly summary",
    "Buy birthday present",
    "Cancel gym trial",
    "Back up laptop",
    "Schedule car service",
    "Draft blog post",
    "Sort tax documents",
)
ARTICLES: tuple[str, ...] = (
    "How to run better meetings",
    "The science of sleep",
    "Why habits stick",
    "A short history of the calendar",
    "Deep work in a noisy office",
    "Cooking for one, well",
    "What makes a good to-do list",
    "Walking as thinking",
)
SHORT_NIGHT_PROBABILITY = 0.25
ARTICLE_PROBABILITY = 0.3
_PRIORITY_WEIGHTS = (1, 2, 3, 4)
_WORK_FROM, _WORK_UNTIL = 9 * 60, 18 * 60
_WEEKEND_FROM, _WEEKEND_UNTIL = 10 * 60, 17 * 60
_FOCUS_BLOCK = 120
_PLACEMENT_TRIES = 30


@dataclass(frozen=True)
class SimSignal:
    kind: str
    external_id: str
    payload: dict[str, Any]
    occurred_at: datetime
    """Aware, in UTC: when the signal reaches Nudge."""


@dataclass(frozen=True)
class Finishable:
    """A new task or article, and the day the user finishes it on their own."""

    signal: SimSignal
    finished: dict[str, Any]
    """The payload fields that change when it is finished ({"done": True})."""
    finish_on: date
    finish_at: time


def local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _minute_of_day(rng: random.Random, first_hour: int, last_hour: int) -> time:
    return time(rng.randint(first_hour, last_hour), rng.randrange(0, 60, 5))


def calendar_events(day: date, tz: ZoneInfo, rng: random.Random) -> list[SimSignal]:
    """The day's events, synced just after midnight."""
    if day.weekday() < 5:
        count, titles, window = rng.randint(2, 5), MEETINGS, (_WORK_FROM, _WORK_UNTIL)
        block = rng.randrange(_WORK_FROM, _WORK_UNTIL - _FOCUS_BLOCK + 1, 60)
        placed = _place(count, window, [(block, block + _FOCUS_BLOCK)], rng)
    else:
        count, titles, window = rng.randint(0, 1), WEEKEND_EVENTS, (_WEEKEND_FROM, _WEEKEND_UNTIL)
        placed = _place(count, window, [], rng)
    names = rng.sample(titles, len(placed))
    synced = utc(local(day, time(0, 5), tz))
    signals = []
    for n, ((start, end), title) in enumerate(zip(placed, names, strict=True), 1):
        payload = {
            "title": title,
            "start": local(day, time(start // 60, start % 60), tz).isoformat(),
            "end": local(day, time(end // 60, end % 60), tz).isoformat(),
            "all_day": False,
        }
        signals.append(SimSignal("calendar_event", f"ev-{day.isoformat()}-{n}", payload, synced))
    return signals


def _place(
    count: int, window: tuple[int, int], blocked: list[tuple[int, int]], rng: random.Random
) -> list[tuple[int, int]]:
    """Up to ``count`` events (local minutes from midnight) clear of each other and ``blocked``."""
    busy, placed = list(blocked), []
    for _ in range(count):
        for _try in range(_PLACEMENT_TRIES):
            length = rng.choice((30, 45, 60))
            start = rng.randrange(window[0], window[1] - length + 1, 15)
            if all(start >= e or start + length <= s for s, e in busy):
                busy.append((start, start + length))
                placed.append((start, start + length))
                break
    return sorted(placed)


def sleep_log(day: date, tz: ZoneInfo, rng: random.Random) -> SimSignal:
    """The night that ends on the morning of ``day``, logged when the user wakes."""
    wake = utc(local(day, time(6, 0), tz) + timedelta(minutes=rng.randrange(0, 181, 5)))
    if rng.random() < SHORT_NIGHT_PROBABILITY:
        minutes = rng.randrange(270, 376, 5)
    else:
        minutes = rng.randrange(420, 511, 5)
    bedtime = wake - timedelta(minutes=minutes)
    payload = {"start": bedtime.astimezone(tz).isoformat(), "end": wake.astimezone(tz).isoformat()}
    return SimSignal("sleep_log", f"sleep-{day.isoformat()}", payload, wake)


def habit_key(name: str) -> str:
    return "-".join(name.casefold().split())


def habit_checkin(name: str, done_on: date, at: datetime) -> SimSignal:
    payload = {"habit": name, "date": done_on.isoformat()}
    return SimSignal("habit_checkin", f"h-{habit_key(name)}-{payload['date']}", payload, utc(at))


def habit_checkins(
    done_on: date, habits: tuple[tuple[str, float], ...], tz: ZoneInfo, rng: random.Random
) -> list[SimSignal]:
    """Check-ins for the habits done on ``done_on``, synced the next morning."""
    synced = local(done_on + timedelta(days=1), _minute_of_day(rng, 7, 8), tz)
    done = [name for name, consistency in habits if rng.random() < consistency]
    return [habit_checkin(name, done_on, synced) for name in done]


def new_task(day: date, number: int, title: str, tz: ZoneInfo, rng: random.Random) -> Finishable:
    """Task ``t-<number>``; 70 % are finished by due + 2 days, the rest 3-10 days late."""
    created = local(day, _minute_of_day(rng, 8, 19), tz)
    due = day + timedelta(days=rng.randint(0, 4))
    priority = rng.choices((1, 2, 3, 4), weights=_PRIORITY_WEIGHTS)[0]
    payload = {"title": title, "due": due.isoformat(), "done": False, "priority": priority}
    if rng.random() < 0.7:
        finish_on = day + timedelta(days=rng.randint(1, (due - day).days + 2))
    else:
        finish_on = due + timedelta(days=rng.randint(3, 10))
    signal = SimSignal("task", f"t-{number}", payload, utc(created))
    return Finishable(signal, {"done": True}, finish_on, _minute_of_day(rng, 9, 20))


def new_article(day: date, number: int, tz: ZoneInfo, rng: random.Random) -> Finishable | None:
    """A saved article now and then; the user reads it on their own within 1-7 days."""
    if rng.random() >= ARTICLE_PROBABILITY:
        return None
    saved = local(day, _minute_of_day(rng, 9, 21), tz)
    payload = {
        "title": rng.choice(ARTICLES),
        "minutes": rng.randint(3, 25),
        "read": False,
        "saved_at": day.isoformat(),
    }
    finish_on = day + timedelta(days=rng.randint(1, 7))
    signal = SimSignal("article", f"a-{number}", payload, utc(saved))
    return Finishable(signal, {"read": True}, finish_on, _minute_of_day(rng, 9, 21))
