"""Open tasks that are overdue or due soon, most urgent first.

Reads ``task`` signals, one per task (the latest signal per external_id wins):

    {"title": "Send invoice",           # required text
     "due": "2026-05-10",               # ISO date, or datetime (naive = the user's local time)
     "done": false,                     # optional bool, default false
     "priority": 1}                     # optional, 1 (highest) to 4 (lowest), default 4

A task without a due date is never urgent here; a malformed task is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo

from ml.agents._format import clock, day, fit, plural, quoted
from ml.agents._payload import (
    bounded_int,
    integer,
    latest_per_id,
    local_date_or_datetime,
    payload_of,
    text,
)
from ml.agents.base import SNIPPET_MAX_CHARS, AgentInput, Item, Signal, Snippet

_TITLE_CHARS = 60
_MAX_LISTED = 5
_LOWEST_PRIORITY = 4


class _Urgency(IntEnum):
    OVERDUE = 0
    TODAY = 1
    SOON = 2


@dataclass(frozen=True, slots=True)
class _Task:
    title: str
    due_day: date
    due_at: datetime | None
    priority: int
    external_id: str


class TasksAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        horizon_days = bounded_int(inp.params, "horizon_days", 3, 0, 30)
        today, local_now = inp.today, inp.local_now
        ranked: list[tuple[_Urgency, _Task]] = []
        for signal in latest_per_id(inp.of_kind("task")):
            task = _read(signal, inp.user.timezone)
            if task is None:
                continue
            urgency = _urgency(task, today, local_now, horizon_days)
            if urgency is not None:
                ranked.append((urgency, task))
        if not ranked:
            return None
        ranked.sort(key=_rank)

        counts = {u: sum(1 for r, _ in ranked if r is u) for u in _Urgency}
        summary = [
            f"{counts[_Urgency.OVERDUE]} overdue" if counts[_Urgency.OVERDUE] else "",
            f"{counts[_Urgency.TODAY]} due today" if counts[_Urgency.TODAY] else "",
            (
                f"{counts[_Urgency.SOON]} due in the next {plural(horizon_days, 'day')}"
                if counts[_Urgency.SOON]
                else ""
            ),
        ]
        listed = "; ".join(
            _describe(task, urgency, today) for urgency, task in ranked[:_MAX_LISTED]
        )
        sentences = [
            f"Open tasks: {', '.join(part for part in summary if part)}.",
            f"Most urgent first: {listed}.",
        ]
        if len(ranked) > _MAX_LISTED:
            sentences.append(f"{len(ranked) - _MAX_LISTED} more not listed.")
        top_urgency, top = ranked[0]
        return Snippet(
            items=[Item(f"task:{t.external_id}", t.title) for _, t in ranked[:_MAX_LISTED]],
            text=fit(sentences, SNIPPET_MAX_CHARS),
            suggestion=_suggestion(top, top_urgency, today),
            because=_because(top, top_urgency, today),
            facts={
                "overdue": counts[_Urgency.OVERDUE],
                "due_today": counts[_Urgency.TODAY],
                "due_soon": counts[_Urgency.SOON],
                "horizon_days": horizon_days,
            },
        )


def _read(signal: Signal, tz: ZoneInfo) -> _Task | None:
    payload = payload_of(signal)
    title = text(payload.get("title"), _TITLE_CHARS)
    due = local_date_or_datetime(payload.get("due"), tz)
    done = payload.get("done", False)
    if title is None or due is None or not isinstance(done, bool) or done:
        return None
    priority = integer(payload.get("priority"))
    if priority is None or not 1 <= priority <= _LOWEST_PRIORITY:
        priority = _LOWEST_PRIORITY
    return _Task(title, due[0], due[1], priority, signal.external_id)


def _urgency(task: _Task, today: date, local_now: datetime, horizon_days: int) -> _Urgency | None:
    if task.due_day < today or (task.due_at is not None and task.due_at <= local_now):
        return _Urgency.OVERDUE
    if task.due_day == today:
        return _Urgency.TODAY
    if task.due_day <= today + timedelta(days=horizon_days):
        return _Urgency.SOON
    return None


def _rank(item: tuple[_Urgency, _Task]) -> tuple[int, int, date, time, str, str]:
    urgency, task = item
    # A task due on a day without a time is due by the end of that day.
    due_time = task.due_at.time() if task.due_at is not None else time.max
    return (urgency, task.priority, task.due_day, due_time, task.title.casefold(), task.external_id)


def _when(task: _Task, today: date) -> str:
    label = day(task.due_day, today)
    return label if task.due_at is None else f"{label} at {clock(task.due_at)}"


def _describe(task: _Task, urgency: _Urgency, today: date) -> str:
    flag = f"P{task.priority}, " if task.priority < _LOWEST_PRIORITY else ""
    if urgency is _Urgency.OVERDUE:
        state = f"overdue since {_when(task, today)}"
    else:
        state = f"due {_when(task, today)}"
    return f"{quoted(task.title)} ({flag}{state})"


def _because(task: _Task, urgency: _Urgency, today: date) -> str:
    if urgency is _Urgency.OVERDUE:
        return f"{quoted(task.title)} is overdue since {_when(task, today)}"
    return f"{quoted(task.title)} is due {_when(task, today)}"


def _suggestion(task: _Task, urgency: _Urgency, today: date) -> str:
    title = quoted(task.title)
    if urgency is _Urgency.OVERDUE:
        return f"Finish {title} first: it has been due since {_when(task, today)}."
    if urgency is _Urgency.TODAY:
        deadline = f"at {clock(task.due_at)}" if task.due_at is not None else "by tonight"
        return f"Make time for {title} now: it is due today {deadline}."
    return f"Get a head start on {title}, due {_when(task, today)}."
