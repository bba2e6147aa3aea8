"""A synthetic user's world, day by day: what their apps send, and what finishing sends.

The world draws a seed, the user's two habits (each with a consistency ~ U(0.75, 0.95))
and the order of their task titles from the rng it is given. Every day then draws from
a stream of its own, seeded from that seed and the date, so what arrives on a day never
depends on what the user did before: the learned, static and oracle runs see the same
tasks, meetings, nights and check-ins, and a task finished because of a tip is simply
not finished again. ``routine`` says what one day holds.

On the first day the apps also sync their history: the last ``HISTORY_DAYS`` nights and
habit check-ins, so streaks and sleep averages exist from the start. Tasks and articles
are sent once, when created, and once more when finished (by the user on their own, on a
day drawn at creation, or through ``complete``); nothing is re-sent unchanged.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ml.evaluation.simulation.routine import (
    HABITS,
    TASK_TITLES,
    Finishable,
    SimSignal,
    calendar_events,
    habit_checkin,
    habit_checkins,
    habit_key,
    local,
    new_article,
    new_task,
    sleep_log,
    utc,
)

__all__ = ["HISTORY_DAYS", "SimSignal", "World"]

HISTORY_DAYS = 6
HABITS_PER_USER = 2
_CONSISTENCY = (0.75, 0.95)
_ONE_DAY = timedelta(days=1)
# A finish never reaches Nudge before the item it finishes.
_AFTER_CREATION = timedelta(seconds=1)


class World:
    """The apps of one user. Ask for days in order; a skipped day sends nothing."""

    def __init__(self, user_id: str, timezone: ZoneInfo, start: date, rng: random.Random) -> None:
        self.user_id = user_id
        self.timezone = timezone
        self.start = start
        self._seed = rng.getrandbits(64)
        self.habits: tuple[tuple[str, float], ...] = tuple(
            (name, rng.uniform(*_CONSISTENCY))
            for name in sorted(rng.sample(HABITS, HABITS_PER_USER))
        )
        self._titles = rng.sample(TASK_TITLES, len(TASK_TITLES))
        self._open: dict[str, Finishable] = {}
        self._checked_in: set[str] = set()
        self._days: dict[date, list[SimSignal]] = {}
        self._tasks = 0
        self._articles = 0

    def signals_for_day(self, day: date) -> list[SimSignal]:
        """The signals that arrive on the local ``day``, oldest first.

        Each is meant to reach Nudge at its ``occurred_at`` (the first day's list starts
        with the history, dated before it); asking for the same day again gives the same list.
        """
        if day in self._days:
            return list(self._days[day])
        latest = max(self._days, default=None)
        if day < self.start or (latest is not None and day < latest):
            raise ValueError(f"{day} is before a day already simulated (or before {self.start})")
        signals = [] if self._days else self._history()
        signals.append(sleep_log(day, self.timezone, self._rng(day, "sleep")))
        signals += self._checkins(day - _ONE_DAY)
        signals += calendar_events(day, self.timezone, self._rng(day, "calendar"))
        signals += self._finished_on(day)
        signals += self._new_items(day)
        signals.sort(key=lambda s: (s.occurred_at, s.kind, s.external_id))
        self._days[day] = signals
        return list(signals)

    def complete(self, ref: str, at: datetime) -> list[SimSignal]:
        """The user finished ``ref`` at ``at``: what their app sends ([] if it sends nothing).

        ``task:<id>`` sends the task again with ``done: true`` and ``article:<id>`` with
        ``read: true``; ``habit:<name>`` checks the habit in for the local day of ``at``.
        An unknown or already finished item sends nothing.
        """
        if at.tzinfo is None:
            raise ValueError("complete() needs an aware datetime")
        item = self._open.pop(ref, None)
        if item is not None:
            return [_finished(item, utc(at))]
        kind, _, key = ref.partition(":")
        return self._check_in(key, at) if kind == "habit" else []

    def open_tasks(self) -> list[SimSignal]:
        """The tasks created and not finished yet, as they were sent, oldest first."""
        return [item.signal for item in self._open.values() if item.signal.kind == "task"]

    def _rng(self, day: date, part: str) -> random.Random:
        return random.Random(f"{self._seed}:{day.isoformat()}:{part}")

    def _history(self) -> list[SimSignal]:
        signals: list[SimSignal] = []
        for back in range(HISTORY_DAYS, 0, -1):
            day = self.start - timedelta(days=back)
            signals.append(sleep_log(day, self.timezone, self._rng(day, "sleep")))
            signals += self._checkins(day - _ONE_DAY)
        return signals

    def _checkins(self, done_on: date) -> list[SimSignal]:
        drawn = habit_checkins(done_on, self.habits, self.timezone, self._rng(done_on, "habits"))
        return [s for s in drawn if s.external_id not in self._checked_in]

    def _finished_on(self, day: date) -> list[SimSignal]:
        due = [ref for ref, item in self._open.items() if item.finish_on <= day]
        return [
            _finished(item, utc(local(day, item.finish_at, self.timezone)))
            for item in (self._open.pop(ref) for ref in due)
        ]

    def _new_items(self, day: date) -> list[SimSignal]:
        rng = self._rng(day, "items")
        items: list[Finishable] = []
        for _ in range(rng.randint(1, 2)):
            self._tasks += 1
            title = self._titles[(self._tasks - 1) % len(self._titles)]
            items.append(new_task(day, self._tasks, title, self.timezone, rng))
        article = new_article(day, self._articles + 1, self.timezone, rng)
        if article is not None:
            self._articles += 1
            items.append(article)
        for item in items:
            self._open[f"{item.signal.kind}:{item.signal.external_id}"] = item
        return [item.signal for item in items]

    def _check_in(self, key: str, at: datetime) -> list[SimSignal]:
        wanted = key.strip().casefold()
        name = next(
            (n for n, _ in self.habits if wanted in (n.casefold(), habit_key(n))),
            None,
        )
        if name is None:
            return []
        signal = habit_checkin(name, at.astimezone(self.timezone).date(), at)
        if signal.external_id in self._checked_in:
            return []
        self._checked_in.add(signal.external_id)
        return [signal]


def _finished(item: Finishable, at: datetime) -> SimSignal:
    sent = item.signal
    when = max(at, sent.occurred_at + _AFTER_CREATION)
    return SimSignal(sent.kind, sent.external_id, {**sent.payload, **item.finished}, when)
