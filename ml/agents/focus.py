"""Deep-work windows left today: free gaps long enough to focus, within working hours.

Reads ``calendar_event`` signals (payload shape in ``ml.agents.calendar``). The minimum
window is the pref ``focus_minutes`` or, without it, the param of the same name. A window
under way reads "now until 12:00" so the text does not drift as time passes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ml.agents._format import clock, duration
from ml.agents._payload import bounded_int
from ml.agents._schedule import Gap, gaps, read_events, working_hours, working_window
from ml.agents.base import AgentInput, Snippet

_MAX_WINDOWS = 4
_MIN_FOCUS, _MAX_FOCUS = 15, 480


class FocusAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        tz = inp.user.timezone
        now = inp.now.astimezone(UTC)
        default = bounded_int(inp.params, "focus_minutes", 90, _MIN_FOCUS, _MAX_FOCUS)
        focus = bounded_int(inp.user.preferences, "focus_minutes", default, _MIN_FOCUS, _MAX_FOCUS)
        hours = working_hours(inp.user.preferences, inp.params)
        meetings, _ = read_events(inp.signals, tz)

        windows = [
            gap
            for gap in gaps(working_window(inp.today, hours, tz), meetings)
            if gap.end - max(gap.start, now) >= timedelta(minutes=focus)
        ][:_MAX_WINDOWS]
        if not windows:
            return None

        labels = "; ".join(_label(w, now, tz, with_length=True) for w in windows)
        first = windows[0]
        if first.start <= now:
            suggestion = (
                f"Start a deep-work block now and keep it until {clock(first.end.astimezone(tz))}:"
                " close chat and email and work on your most important task."
            )
        else:
            suggestion = (
                f"Block {_label(first, now, tz, with_length=False)} today for deep work on your"
                " most important task and silence notifications."
            )
        return Snippet(
            text=(
                f"Deep-work windows left today ({duration(focus)} or more free within working"
                f" hours {clock(hours[0])}–{clock(hours[1])}): {labels}."
            ),
            suggestion=suggestion,
            because=f"you have a deep-work window {_label(first, now, tz, with_length=False)}",
            facts={
                "focus_minutes": focus,
                "windows": [
                    [clock(w.start.astimezone(tz)), clock(w.end.astimezone(tz))] for w in windows
                ],
            },
        )


def _label(window: Gap, now: datetime, tz: ZoneInfo, *, with_length: bool) -> str:
    end = clock(window.end.astimezone(tz))
    if window.start <= now:
        return f"now until {end}"
    span = f"{clock(window.start.astimezone(tz))}–{end}"
    if not with_length:
        return span
    minutes = int((window.end - window.start).total_seconds() // 60)
    return f"{span} ({duration(minutes)})"
