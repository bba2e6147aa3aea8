"""Habit streaks that break today unless the user checks in.

Reads ``habit_checkin`` signals, one per check-in:

    {"habit": "Meditate",       # required text; compared case-insensitively
     "date": "2026-05-09"}      # ISO date, or datetime (its date in the user's time zone)

A streak is the run of consecutive days with a check-in, up to yesterday (local). It is at
risk when it is at least ``min_streak`` days long and today has no check-in yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from ml.agents._format import fit, quoted
from ml.agents._payload import bounded_int, local_date_or_datetime, payload_of, text
from ml.agents.base import SNIPPET_MAX_CHARS, AgentInput, Item, Snippet

_NAME_CHARS = 50
_MAX_OTHERS = 3


@dataclass(slots=True)
class _Habit:
    name: str
    days: set[date] = field(default_factory=set)


class HabitsAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        min_streak = bounded_int(inp.params, "min_streak", 3, 2, 365)
        today = inp.today
        at_risk = sorted(
            (
                (streak, habit.name)
                for habit in _read(inp).values()
                if today not in habit.days
                and (streak := _streak(habit.days, today)) >= min_streak
                and _ref(habit.name, today) not in inp.hidden
            ),
            key=lambda item: (-item[0], item[1].casefold(), item[1]),
        )
        if not at_risk:
            return None

        streak, name = at_risk[0]
        sentences = [
            f"Habit streak at risk: {quoted(name)} has been checked in {streak} days in a row"
            " up to yesterday, but not yet today."
        ]
        if len(at_risk) > 1:
            others = ", ".join(f"{quoted(n)} ({s} days)" for s, n in at_risk[1 : 1 + _MAX_OTHERS])
            sentences.append(f"Also at risk: {others}.")
        return Snippet(
            text=fit(sentences, SNIPPET_MAX_CHARS),
            items=[Item(_ref(n, today), n) for _, n in at_risk[: 1 + _MAX_OTHERS]],
            suggestion=(
                f"Keep your {streak}-day {quoted(name)} streak going: do it today and check in."
            ),
            facts={"habit": name, "streak_days": streak, "at_risk": len(at_risk)},
            because=f"your {streak}-day {quoted(name)} streak is not checked in today",
        )


def _read(inp: AgentInput) -> dict[str, _Habit]:
    """Check-in days per habit, keyed by the habit's case-folded name."""
    habits: dict[str, _Habit] = {}
    for signal in inp.of_kind("habit_checkin"):
        payload = payload_of(signal)
        name = text(payload.get("habit"), _NAME_CHARS)
        when = local_date_or_datetime(payload.get("date"), inp.user.timezone)
        if name is None or when is None:
            continue
        habit = habits.setdefault(name.casefold(), _Habit(name))
        # The same spelling whatever the order the check-ins arrive in.
        habit.name = min(habit.name, name)
        habit.days.add(when[0])
    return habits


def _streak(days: set[date], today: date) -> int:
    streak, cursor = 0, today - timedelta(days=1)
    while cursor in days:
        streak += 1
        cursor -= timedelta(days=1)
    return streak


def _ref(name: str, today: date) -> str:
    """Today's check-in of a habit: done today, the habit is back tomorrow."""
    key = "-".join(name.casefold().split())
    return f"habit:{key}:{today.isoformat()}"
