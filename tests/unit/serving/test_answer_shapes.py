"""The two answer shapes: the full answer the model cites in, and the tip alone, whose
citations come from the facts it names. Pure logic."""

from __future__ import annotations

import json
import re

import pytest

from ml.serving.tip.answer import (
    TIP_SENTENCE,
    InvalidAnswer,
    answer_schema,
    composed_rationale,
    grounding,
    parse_answer,
)

SNIPPETS = {
    "tasks": 'Open tasks: "Send the Q3 invoice" (P1, overdue since Thu 19 Nov).',
    "calendar": 'Next meeting: "Design review" today 12:00–13:00.',
    "mood": "Drink water regularly during the afternoon.",
}


def tip(text: str) -> str:
    return json.dumps({"tip": text})


def test_the_tip_shape_asks_for_one_sentence_and_nothing_else() -> None:
    schema = answer_schema(["tasks", "calendar"], ["task:1"], shape="tip")
    assert schema["required"] == ["tip"] and set(schema["properties"]) == {"tip"}
    assert schema["properties"]["tip"]["pattern"] == TIP_SENTENCE
    sentence = re.compile(TIP_SENTENCE)
    assert sentence.match("Send the Q3 invoice before the Design review at 12:00.")
    # A run-on list of times or a second sentence cannot be written.
    assert not sentence.match("Send the invoice. Then review the design at 12:00 and 13:00.")
    assert not sentence.match('Send the "Q3 invoice" now, before lunch today.')


def test_a_tip_is_cited_to_the_snippets_whose_facts_it_names() -> None:
    parsed = parse_answer(
        tip("Send the Q3 invoice before the Design review at 12:00."), SNIPPETS, shape="tip"
    )
    assert set(parsed.agents) == {"tasks", "calendar"}
    assert parsed.cited_by_model == () and parsed.rationale == ""


def test_the_snippet_with_more_facts_named_is_cited_first() -> None:
    parsed = parse_answer(
        tip("Block 12:00 to 13:00 for the Design review, then send the invoice."),
        SNIPPETS,
        shape="tip",
    )
    assert parsed.agents[0] == "calendar"


def test_sharing_a_word_is_not_naming_a_fact() -> None:
    with pytest.raises(InvalidAnswer, match="names no fact of any snippet"):
        parse_answer(tip("The invoice matters, so deal with it soon."), SNIPPETS, shape="tip")


def test_a_snippet_without_checkable_facts_grounds_by_its_words() -> None:
    assert grounding("Drink some water before your next call.", SNIPPETS["mood"]) == (0, 2)
    parsed = parse_answer(tip("Drink some water before your next call."), SNIPPETS, shape="tip")
    assert parsed.agents == ("mood",)


def test_every_tip_rule_holds_for_the_tip_shape_too() -> None:
    with pytest.raises(InvalidAnswer, match="not given: 15:00"):
        parse_answer(tip("Send the Q3 invoice at 15:00 today."), SNIPPETS, shape="tip")
    with pytest.raises(InvalidAnswer, match="repeats itself"):
        parse_answer(
            tip("Send the Q3 invoice now and now and now and now and now and now."),
            SNIPPETS,
            shape="tip",
        )


def test_a_composed_rationale_joins_the_agents_own_reasons() -> None:
    because = {"tasks": "“Send the Q3 invoice” is overdue", "calendar": None}
    assert composed_rationale(["tasks"], because) == "Because “Send the Q3 invoice” is overdue."
    assert composed_rationale(["tasks", "calendar"], because) == (
        "Because “Send the Q3 invoice” is overdue and calendar reported it."
    )
