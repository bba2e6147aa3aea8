"""How the user reacted to recent tips, so new tips do not repeat what they turned down.

Reads ``tip_feedback`` signals, written by the service when the user reacts to a tip
(the latest signal per external_id wins; occurred_at is the time of the reaction):

    {"reaction": "done" | "snooze" | "dismiss",   # required
     "tip_text": "Block 14:00-16:00 for ...",       # required text of the tip
     "agents": ["calendar", "focus"],               # optional ids the tip cited
     "snooze_until": "2026-05-10T18:00:00Z"}        # optional ISO datetime, for snooze

Only reactions on the last ``lookback_days`` local days (today included) count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ml.agents._format import clock, day, fit, plural, quoted
from ml.agents._payload import (
    bounded_int,
    in_zone,
    latest_per_id,
    local_datetime,
    payload_of,
    text,
)
from ml.agents.base import SNIPPET_MAX_CHARS, AgentInput, Signal, Snippet

_REACTIONS = ("dismiss", "snooze", "done")
_TIP_CHARS = 70
_LISTED = {"dismiss": 3, "snooze": 2, "done": 2}
_AGENT_ID = re.compile(r"[a-z0-9_-]{1,40}")
_MAX_AGENTS_NAMED = 3


@dataclass(frozen=True, slots=True)
class _Reaction:
    kind: str
    tip: str
    at: datetime
    agents: tuple[str, ...]
    snooze_until: datetime | None


class FeedbackHistoryAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        lookback = bounded_int(inp.params, "lookback_days", 7, 1, 90)
        tz, today = inp.user.timezone, inp.today
        first_day = today - timedelta(days=lookback - 1)
        reactions = [
            r
            for r in (_read(s, tz) for s in latest_per_id(inp.of_kind("tip_feedback")))
            if r is not None and first_day <= r.at.date() and r.at <= inp.local_now
        ]
        if not reactions:
            return None
        # Most recent first; ties broken on the text so the order never depends on input order.
        reactions.sort(key=lambda r: (-r.at.timestamp(), r.tip))
        by_kind = {kind: [r for r in reactions if r.kind == kind] for kind in _REACTIONS}

        counts = ", ".join(
            f"{len(by_kind[kind])} {label}"
            for kind, label in (("done", "done"), ("snooze", "snoozed"), ("dismiss", "dismissed"))
            if by_kind[kind]
        )
        sentences = [f"Reactions to tips in the last {plural(lookback, 'day')}: {counts}."]
        if by_kind["dismiss"]:
            tips = "; ".join(quoted(r.tip) for r in _distinct(by_kind["dismiss"], "dismiss"))
            sentences.append(f"Dismissed, avoid repeating: {tips}.")
        if by_kind["snooze"]:
            tips = "; ".join(_snoozed(r, today) for r in _distinct(by_kind["snooze"], "snooze"))
            sentences.append(f"Snoozed: {tips}.")
        if by_kind["done"]:
            tips = "; ".join(
                f"{quoted(r.tip)} ({day(r.at.date(), today)})"
                for r in _distinct(by_kind["done"], "done")
            )
            sentences.append(f"Done: {tips}.")
        dismissed_by = Counter(a for r in by_kind["dismiss"] for a in r.agents)
        ranked = sorted(dismissed_by.items(), key=lambda item: (-item[1], item[0]))
        if ranked:
            named = ", ".join(f"{a} ({n})" for a, n in ranked[:_MAX_AGENTS_NAMED])
            sentences.append(f"Most dismissed sources: {named}.")

        done = len(by_kind["done"])
        suggestion = (
            f"You acted on {plural(done, 'tip')} in the last {plural(lookback, 'day')}:"
            " keep the momentum with one small next step today."
            if done
            else None
        )
        return Snippet(
            text=fit(sentences, SNIPPET_MAX_CHARS),
            suggestion=suggestion,
            because=f"of how you reacted to tips in the last {plural(lookback, 'day')} ({counts})",
            facts={
                "lookback_days": lookback,
                "done": done,
                "snoozed": len(by_kind["snooze"]),
                "dismissed": len(by_kind["dismiss"]),
                "dismissed_by_agent": dict(ranked[:_MAX_AGENTS_NAMED]),
            },
        )


def _read(signal: Signal, tz: ZoneInfo) -> _Reaction | None:
    payload = payload_of(signal)
    kind = payload.get("reaction")
    tip = text(payload.get("tip_text"), _TIP_CHARS)
    if tip is not None:
        # Without its final period a quoted tip reads cleanly inside a sentence.
        tip = tip.rstrip(". ") or None
    if not isinstance(kind, str) or kind not in _REACTIONS or tip is None:
        return None
    raw_agents = payload.get("agents")
    agents = (
        tuple(sorted({a for a in raw_agents if isinstance(a, str) and _AGENT_ID.fullmatch(a)}))
        if isinstance(raw_agents, list)
        else ()
    )
    at = in_zone(signal.occurred_at, tz)
    if at is None:
        return None
    snooze_until = local_datetime(payload.get("snooze_until"), tz) if kind == "snooze" else None
    return _Reaction(kind, tip, at, agents, snooze_until)


def _distinct(reactions: Sequence[_Reaction], kind: str) -> list[_Reaction]:
    """The most recent reactions of one kind, one per tip text."""
    seen: set[str] = set()
    kept: list[_Reaction] = []
    for reaction in reactions:
        key = reaction.tip.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(reaction)
        if len(kept) == _LISTED[kind]:
            break
    return kept


def _snoozed(reaction: _Reaction, today: date) -> str:
    if reaction.snooze_until is None:
        return quoted(reaction.tip)
    until = reaction.snooze_until
    return f"{quoted(reaction.tip)} (until {day(until.date(), today)} {clock(until)})"
