"""Facts in snippets and whether a tip mentions them: the evaluation's grounding test."""

from __future__ import annotations

import pytest

from ml.serving.tip.facts import extract_facts, grounded_facts, is_grounded

TASKS = (
    'Open tasks: 1 overdue, 2 due today. Most urgent first: "Send the Q3 invoice" '
    '(P1, overdue since Sun 8 Mar); "Review Marc\'s pull request" (P2, due today at 14:00).'
)
SLEEP = (
    "Last night: slept 5 h 40 min (00:50–06:30), 1 h 50 min under the 7 h 30 min target. "
    "Average over the last 5 nights: 6 h 48 min."
)
HABITS = 'Habit streak at risk: "Meditate" has been checked in 6 days in a row up to yesterday.'
READING = 'Reading list: 1 unread article (about 12 min in all). Shortest first: "Slow travel".'


def test_facts_are_extracted_in_order_once_each() -> None:
    facts = [(f.kind, f.label) for f in extract_facts(TASKS)]
    assert facts == [
        ("count", "1 overdue"),
        ("title", "Send the Q3 invoice"),
        ("title", "Review Marc's pull request"),
        ("clock", "14:00"),
    ]
    sleep = [(f.kind, f.label) for f in extract_facts(SLEEP)]
    assert ("duration", "5 h 40 min") in sleep and ("clock", "00:50") in sleep
    assert ("count", "5 nights") in sleep
    assert ("duration", "12 min") in [(f.kind, f.label) for f in extract_facts(READING)]
    assert extract_facts("Nothing to say.") == []


@pytest.mark.parametrize(
    ("tip", "snippet"),
    [
        ("Send the Q3 invoice before lunch.", TASKS),
        ("send the q3 INVOICE now", TASKS),
        ("Finish the invoice and send it.", TASKS),  # every telling word of the title
        ("Review the pull request from Marc by 2 pm.", TASKS),
        ("Block 2:00 pm for the review.", TASKS),
        ("Be ready at 14:00.", TASKS),
        ("You slept 5 hours and 40 minutes: go to bed early.", SLEEP),
        ("After 5h40 of sleep, keep today light.", SLEEP),
        ("Aim for 7.5 hours tonight.", SLEEP),
        ("Keep your 6-day streak alive: meditate now.", HABITS),
        ("Take a twelve-minute break to read.", READING),
        ("Read for 12 minutes.", READING),
    ],
)
def test_a_tip_that_restates_a_fact_is_grounded(tip: str, snippet: str) -> None:
    assert is_grounded(tip, [snippet]), [f.label for f in extract_facts(snippet)]


@pytest.mark.parametrize(
    ("tip", "snippet"),
    [
        ("Take a short walk.", TASKS),
        ("Be ready at 19:30.", "Next meeting today 9:30."),  # 9:30 is not 19:30
        ("Be ready at 9:30.", "Next meeting today 19:30."),
        ("Send it now.", TASKS),  # one word of a title is not the title
        ("Sleep 5 hours.", SLEEP),
        ("Take a 2-minute break.", READING),
        ("Meet at 4 pm.", "Call at 14:00."),
    ],
)
def test_a_tip_without_a_fact_of_the_snippet_is_not_grounded(tip: str, snippet: str) -> None:
    assert not is_grounded(tip, [snippet])


def test_grounded_facts_name_what_was_mentioned() -> None:
    labels = [f.label for f in grounded_facts("Send the Q3 invoice by 14:00.", [TASKS, SLEEP])]
    assert labels == ["Send the Q3 invoice", "14:00"]
    assert not is_grounded("Send the Q3 invoice by 14:00.", [])


def test_noon_and_midnight() -> None:
    assert is_grounded("Lunch at noon.", ["Lunch at 12:00."])
    assert is_grounded("Be asleep by midnight.", ["bedtime 00:00"])
    assert is_grounded("Bed by 12 am.", ["bedtime 00:00"])
