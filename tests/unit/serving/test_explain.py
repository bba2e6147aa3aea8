"""The plain-language parts of an explanation: agents' `because` clauses and the sentence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ml.agents.base import BECAUSE_MAX_CHARS, Snippet
from ml.precompute.checked import check_output
from ml.serving.tip.explain import _why, because
from ml.serving.tip.explanation import CitedAgentOut
from tests.unit.agents.test_agents_demo import AGENTS, SAMPLE_TIMES, run_demo

AT = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)


def cited(agent_id: str, snippet: str, clause: str | None) -> CitedAgentOut:
    return CitedAgentOut(
        agent_id=agent_id,
        name=agent_id.title(),
        version=1,
        computed_at=AT,
        snippet=snippet,
        because=clause,
        consents=[],
    )


@pytest.mark.parametrize("agent_id", AGENTS)
def test_every_built_in_agent_says_why_in_a_clause(agent_id: str) -> None:
    clauses = [
        snippet.because
        for user in ("alice", "bob")
        for now in SAMPLE_TIMES
        if (snippet := run_demo(agent_id, user, now)) is not None
    ]
    assert clauses, f"{agent_id} never spoke on the demo data"
    for clause in clauses:
        assert clause and clause == clause.strip() and not clause.endswith(".")
        assert len(clause) <= BECAUSE_MAX_CHARS
        assert clause[0].islower() or clause[0] in "\"'“"  # reads on after "Because"


def test_the_sentence_joins_up_to_three_clauses() -> None:
    one = [cited("tasks", "Open tasks: 1 overdue.", '"Q3 report" is overdue since Monday')]
    assert because(one, fallback_reason=None) == 'Because "Q3 report" is overdue since Monday.'
    two = [*one, cited("calendar", "Free 14:00–15:30.", "your calendar is free 14:00–15:30")]
    assert because(two, fallback_reason=None) == (
        'Because "Q3 report" is overdue since Monday and your calendar is free 14:00–15:30.'
    )
    four = [*two, cited("sleep", "x", "you slept 6 h"), cited("habits", "y", "a streak")]
    sentence = because(four, fallback_reason=None)
    assert sentence.count(" and ") == 1 and "streak" not in sentence and ", " in sentence


def test_an_agent_without_a_clause_is_quoted_by_its_first_sentence() -> None:
    sentence = because(
        [cited("reading", "Reading list: 3 unread. Shortest first: x.", None)],
        fallback_reason=None,
    )
    assert sentence == "Because Reading reports “Reading list: 3 unread”."


def test_no_cited_agent_gives_a_general_sentence() -> None:
    assert "none of your agents" in because([], fallback_reason="no_eligible_agents")
    assert "general" in because([], fallback_reason="llm_timeout")


@pytest.mark.parametrize(
    ("excluded", "context", "expected"),
    [
        ({"reason": "missing_consent", "missing_consents": ["a.read", "b.read"]}, None,
         "no consent for a.read, b.read"),
        ({"reason": "silenced_by_context"}, "vacation", "silenced by your context vacation"),
        ({"reason": "disabled"}, None, "the agent is disabled"),
        ({"reason": "no_output"}, None, "no output computed for you yet"),
        ({"reason": "old_version", "detail": "output is of version 1, manifest is 2"}, None,
         "its output is from an older version (output is of version 1, manifest is 2)"),
        ({"reason": "snoozed"}, None, "you snoozed it"),
    ],
)  # fmt: skip
def test_reasons_in_plain_words(
    excluded: dict[str, object], context: str | None, expected: str
) -> None:
    assert _why(excluded, context) == expected


def test_the_guard_bounds_and_cleans_clauses() -> None:
    checked, truncated = check_output(Snippet(text="t", because="  your  day\n is full.  "))
    assert checked is not None and checked.because == "your day is full" and not truncated
    long, truncated = check_output(Snippet(text="t", because="x" * 500))
    assert long is not None and long.because is not None
    assert len(long.because) == BECAUSE_MAX_CHARS and truncated
    with pytest.raises(TypeError, match="because"):
        check_output(Snippet(text="t", because=3))  # type: ignore[arg-type]
