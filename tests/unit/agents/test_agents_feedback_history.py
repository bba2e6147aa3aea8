from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import AgentInput, Signal, Snippet, UserView
from ml.agents.feedback_history import FeedbackHistoryAgent

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)  # Tue 12 May, 12:00 in Paris


def run(
    reactions: Sequence[tuple[Mapping[str, Any], datetime]],
    *,
    now: datetime = NOW,
    tz: ZoneInfo = PARIS,
    params: Mapping[str, Any] | None = None,
) -> Snippet | None:
    signals = [
        Signal("tip_feedback", f"f{i}", payload, at) for i, (payload, at) in enumerate(reactions)
    ]
    params = {"lookback_days": 7} if params is None else params
    return FeedbackHistoryAgent().compute(AgentInput(UserView("u1", tz), now, signals, params))


def reaction(kind: str, tip: str, *agents: str, **extra: Any) -> dict[str, Any]:
    return {"reaction": kind, "tip_text": tip, "agents": list(agents), **extra}


HISTORY = [
    (reaction("dismiss", "Take a walk after lunch.", "habits"), NOW - timedelta(hours=1)),
    (reaction("dismiss", "Stretch for 5 minutes.", "habits", "focus"), NOW - timedelta(days=2)),
    (
        reaction("snooze", "Prepare the review.", "calendar", snooze_until="2026-05-12T16:00:00Z"),
        NOW - timedelta(hours=2),
    ),
    (reaction("done", "Clear your inbox.", "tasks"), NOW - timedelta(days=1)),
    (reaction("done", "Too old to matter.", "tasks"), NOW - timedelta(days=9)),
]


def test_summarises_recent_reactions_so_tips_do_not_repeat() -> None:
    snippet = run(HISTORY)
    assert snippet is not None
    assert snippet.text == (
        "Reactions to tips in the last 7 days: 1 done, 1 snoozed, 2 dismissed."
        ' Dismissed, avoid repeating: "Take a walk after lunch"; "Stretch for 5 minutes".'
        ' Snoozed: "Prepare the review" (until today 18:00).'
        ' Done: "Clear your inbox" (yesterday).'
        " Most dismissed sources: habits (2), focus (1)."
    )
    assert snippet.suggestion == (
        "You acted on 1 tip in the last 7 days: keep the momentum with one small next step today."
    )
    assert snippet.facts == {
        "lookback_days": 7,
        "done": 1,
        "snoozed": 1,
        "dismissed": 2,
        "dismissed_by_agent": {"habits": 2, "focus": 1},
    }


def test_without_anything_done_there_is_no_suggestion() -> None:
    snippet = run(HISTORY[:3])
    assert snippet is not None and snippet.suggestion is None


def test_nothing_recent_gives_none() -> None:
    assert run([]) is None
    assert run([HISTORY[-1]]) is None


def test_lookback_counts_local_days() -> None:
    # 23:30 UTC on the 5th is the 6th in Paris: inside a 7-day window ending on the 12th.
    edge = [(reaction("done", "Edge case"), datetime(2026, 5, 5, 23, 30, tzinfo=UTC))]
    assert run(edge) is not None
    assert run(edge, tz=ZoneInfo("UTC")) is None
    assert run(edge, params={"lookback_days": 1}) is None


def test_the_same_tip_is_listed_once_and_the_latest_reaction_per_id_wins() -> None:
    repeated = [
        (reaction("dismiss", "Take a walk."), NOW - timedelta(hours=3)),
        (reaction("dismiss", "take a walk."), NOW - timedelta(hours=2)),
    ]
    snippet = run(repeated)
    assert snippet is not None
    assert 'Dismissed, avoid repeating: "take a walk".' in snippet.text
    updated = [
        Signal("tip_feedback", "t1", reaction("snooze", "Call mum."), NOW - timedelta(hours=3)),
        Signal("tip_feedback", "t1", reaction("done", "Call mum."), NOW - timedelta(hours=1)),
    ]
    result = FeedbackHistoryAgent().compute(AgentInput(UserView("u1", PARIS), NOW, updated, {}))
    assert result is not None and result.facts["snoozed"] == 0 and result.facts["done"] == 1


def test_text_is_stable_between_sweeps() -> None:
    first = run(HISTORY)
    assert first is not None
    assert first == run(HISTORY, now=NOW + timedelta(minutes=10))


@pytest.mark.parametrize(
    "payload",
    [
        {"reaction": "like", "tip_text": "Nope"},
        {"reaction": "done"},
        {"reaction": ["done"], "tip_text": "Nope"},
        {"tip_text": "Nope"},
        {"reaction": "dismiss", "tip_text": "   "},
    ],
)
def test_malformed_feedback_is_skipped(payload: dict[str, Any]) -> None:
    assert run([*HISTORY, (payload, NOW)]) == run(HISTORY)


def test_bad_optional_fields_are_ignored() -> None:
    snippet = run(
        [
            (
                {
                    "reaction": "snooze",
                    "tip_text": "Plan the week",
                    "agents": "tasks",
                    "snooze_until": "whenever",
                },
                NOW,
            ),
            (reaction("dismiss", "Walk", "Not An Id", "x" * 100, "tasks"), NOW),
        ]
    )
    assert snippet is not None
    assert 'Snoozed: "Plan the week".' in snippet.text
    assert snippet.facts["dismissed_by_agent"] == {"tasks": 1}


def test_many_long_tips_stay_within_bounds() -> None:
    many = [
        (reaction(kind, f"Tip {i} " + "words " * 60, *(f"agent{j}" for j in range(30))), NOW)
        for i in range(100)
        for kind in ("done", "snooze", "dismiss")
    ]
    snippet = run(many)
    assert snippet is not None
    assert len(snippet.text) <= 600
    assert snippet.suggestion is not None and len(snippet.suggestion) <= 240
    assert len(snippet.facts["dismissed_by_agent"]) == 3
