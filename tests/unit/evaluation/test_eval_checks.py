"""Expectations met by a tip, and excluded agents found where they must not be."""

from __future__ import annotations

from ml.evaluation.checks import Violations, check_expectations, find_violations
from ml.evaluation.dataset import Expectation

EXPECT = Expectation(
    cite=("tasks",),
    not_cite=("calendar",),
    mention=(("Q3 invoice", "invoice"), ("14:00",)),
    not_contain=("snippet", "Budget sync"),
)


def test_every_expectation_met() -> None:
    outcome = check_expectations(EXPECT, tip="Send the Q3 INVOICE by 14:00.", cited=["tasks"])
    assert (outcome.met, outcome.total, outcome.missed) == (6, 6, ())


def test_each_miss_is_named() -> None:
    outcome = check_expectations(
        EXPECT, tip="Skip the budget sync snippet.", cited=["calendar", "habits"]
    )
    assert outcome.total == 6 and outcome.met == 0
    assert outcome.missed == (
        "cite tasks",
        "not_cite calendar",
        "mention 'Q3 invoice' | 'invoice'",
        "mention '14:00'",
        "not_contain 'snippet'",
        "not_contain 'Budget sync'",
    )


def test_no_expectation_is_no_score() -> None:
    outcome = check_expectations(Expectation(), tip="Anything.", cited=[])
    assert (outcome.met, outcome.total) == (0, 0)


SNIPPET = 'Open tasks: 1 overdue. Most urgent first: "File the expense report" (P1).'
EXCLUDED = {"tasks": "context", "sleep": "consent"}


def _find(**overrides: object) -> Violations:
    values: dict[str, object] = {
        "excluded": EXCLUDED,
        "eligible": ["habits"],
        "cited": ["habits"],
        "prompt": '<snippet agent="habits">"Run" streak at risk.</snippet>',
        "would_say": {"tasks": SNIPPET},
        "admitted": ['"Run" streak at risk.'],
    }
    values.update(overrides)
    return find_violations(**values)  # type: ignore[arg-type]


def test_a_clean_run_has_no_violation() -> None:
    assert _find() == Violations()


def test_an_excluded_agent_in_the_provenance_is_a_violation_of_its_kind() -> None:
    assert _find(cited=["habits", "sleep"]) == Violations(consent=("sleep: cited by the tip",))
    assert _find(eligible=["habits", "tasks"]) == Violations(context=("tasks: listed as eligible",))


def test_an_excluded_snippet_in_the_prompt_is_a_leak_whatever_the_spacing() -> None:
    prompt = "Now: Monday.\n" + SNIPPET.replace(" ", "  ").upper()
    assert _find(prompt=prompt) == Violations(context=("tasks: its snippet reached the prompt",))


def test_an_excluded_title_in_the_prompt_is_a_leak_unless_an_admitted_agent_says_it() -> None:
    prompt = 'Remember "File the expense report".'
    assert _find(prompt=prompt) == Violations(
        context=('tasks: "File the expense report" reached the prompt',)
    )
    shared = _find(prompt=prompt, admitted=['Done: "File the expense report" (yesterday).'])
    assert shared == Violations()


def test_no_prompt_no_prompt_leak() -> None:
    assert _find(prompt="") == Violations()
