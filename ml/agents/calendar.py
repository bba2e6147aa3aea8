"""The meeting under way, the next meeting and free slots in the coming hours.

Reads ``calendar_event`` signals, one per event (the latest signal per external_id wins):

    {"title": "Design review",                  # optional text
     "start": "2026-05-10T14:00:00+02:00",      # ISO datetime; naive = the user's local time
     "end": "2026-05-10T15:00:00+02:00",        # after start
     "all_day": false}                          # optional; all-day events take ISO dates,
                                                # end exclusive, and do not block free time

Free slots are clipped to the user's working hours (prefs ``work_start``/``work_end``,
"HH:MM", default 09:00-18:00) and shown whole, from the meeting before to the meeting
after, so the text does not drift as time passes; a slot under way reads "now until 15:00".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ml.agents._format import clock, day, duration, fit, quoted
from ml.agents._payload import bounded_int
from ml.agents._schedule import (
    Gap,
    Meeting,
    current_meeting,
    gaps,
    read_events,
    working_hours,
    working_window,
)
from ml.agents.base import SNIPPET_MAX_CHARS, AgentInput, Snippet

_MAX_SLOTS = 4
_MAX_ALL_DAY = 2


class CalendarAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        tz = inp.user.timezone
        now = inp.now.astimezone(UTC)
        today = inp.today
        horizon_hours = bounded_int(inp.params, "horizon_hours", 12, 1, 48)
        min_free = bounded_int(inp.params, "min_free_minutes", 30, 5, 480)
        until = now + timedelta(hours=horizon_hours)
        meetings, all_day = read_events(inp.signals, tz)

        current = current_meeting(meetings, now)
        upcoming = next((m for m in meetings if now < m.start < until), None)
        slots = _free_slots(meetings, inp, now, until, timedelta(minutes=min_free))
        all_day_titles = [e.title for e in all_day if e.first <= today <= e.last]
        if not (current or upcoming or slots or all_day_titles):
            return None

        sentences: list[str] = []
        if current is not None:
            sentences.append(f"Now in {quoted(current.title)} until {_at(current.end, tz, today)}.")
        if upcoming is not None:
            sentences.append(
                f"Next meeting: {quoted(upcoming.title)} {_span(upcoming, tz, today)}."
            )
        if all_day_titles:
            titles = ", ".join(quoted(t) for t in all_day_titles[:_MAX_ALL_DAY])
            sentences.append(f"All day today: {titles}.")
        scope = f"of {duration(min_free)} or more in working hours in the next {horizon_hours} h"
        if slots:
            labels = "; ".join(_slot_label(s, now, tz, today) for s in slots[:_MAX_SLOTS])
            sentences.append(f"Free slots {scope}: {labels}.")
        else:
            sentences.append(f"No free slot {scope}.")

        return Snippet(
            text=fit(sentences, SNIPPET_MAX_CHARS),
            suggestion=_suggestion(slots, upcoming, now, tz, today),
            because=_because(current, upcoming, slots, now, tz, today),
            facts={
                "in_meeting": current is not None,
                "next_meeting_at": upcoming.start.astimezone(tz).isoformat() if upcoming else None,
                "free_slots": len(slots),
                "horizon_hours": horizon_hours,
                "min_free_minutes": min_free,
            },
        )


def _free_slots(
    meetings: list[Meeting], inp: AgentInput, now: datetime, until: datetime, min_free: timedelta
) -> list[Gap]:
    """Gaps that start before `until` and leave at least `min_free` from now on."""
    tz = inp.user.timezone
    hours = working_hours(inp.user.preferences, inp.params)
    slots: list[Gap] = []
    current_day, last_day = inp.today, until.astimezone(tz).date()
    while current_day <= last_day:
        for gap in gaps(working_window(current_day, hours, tz), meetings):
            if gap.start < until and gap.end - max(gap.start, now) >= min_free:
                slots.append(gap)
        current_day += timedelta(days=1)
    return slots


def _at(moment: datetime, tz: ZoneInfo, today: date) -> str:
    local = moment.astimezone(tz)
    return clock(local) if local.date() == today else f"{day(local.date(), today)} {clock(local)}"


def _span(meeting: Meeting, tz: ZoneInfo, today: date) -> str:
    start, end = meeting.start.astimezone(tz), meeting.end.astimezone(tz)
    end_label = clock(end) if end.date() == start.date() else _at(meeting.end, tz, today)
    return f"{day(start.date(), today)} {clock(start)}–{end_label}"


def _slot_label(slot: Gap, now: datetime, tz: ZoneInfo, today: date) -> str:
    if slot.start <= now:
        return f"now until {clock(slot.end.astimezone(tz))}"
    start = slot.start.astimezone(tz)
    return f"{day(start.date(), today)} {clock(start)}–{clock(slot.end.astimezone(tz))}"


def _because(
    current: Meeting | None,
    upcoming: Meeting | None,
    slots: list[Gap],
    now: datetime,
    tz: ZoneInfo,
    today: date,
) -> str:
    if slots:
        return f"your calendar is free {_slot_label(slots[0], now, tz, today)}"
    if current is not None:
        return f"you are in {quoted(current.title)} until {_at(current.end, tz, today)}"
    if upcoming is not None:
        start = upcoming.start.astimezone(tz)
        return f"{quoted(upcoming.title)} starts {day(start.date(), today)} at {clock(start)}"
    return "your calendar has no free slot in working hours"


def _suggestion(
    slots: list[Gap], upcoming: Meeting | None, now: datetime, tz: ZoneInfo, today: date
) -> str | None:
    if slots and slots[0].start <= now:
        end = clock(slots[0].end.astimezone(tz))
        return f"You are free until {end}: use that time for your most important task."
    if slots:
        label = _slot_label(slots[0], now, tz, today)
        return f"Block {label} in your calendar for your most important task."
    if upcoming is not None:
        start = upcoming.start.astimezone(tz)
        return (
            f"Prepare for {quoted(upcoming.title)} {day(start.date(), today)} at {clock(start)}: "
            "check the agenda and what you need to bring."
        )
    return None
