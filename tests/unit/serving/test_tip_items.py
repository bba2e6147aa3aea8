"""Which items a tip is about: shown by its words, else the cited snippet's first."""

from __future__ import annotations

from datetime import UTC, datetime

from ml.serving.tip.tip_context import OutputItem, StoredOutput
from ml.serving.tip.tip_items import TipItem, tip_items

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def _output(agent_id: str, *items: tuple[str, str]) -> StoredOutput:
    return StoredOutput(
        agent_id, 1, "text", None, None, "h", NOW, NOW,
        tuple(OutputItem(ref, label) for ref, label in items),
    )  # fmt: skip


TASKS = _output("tasks", ("task:t1", "Send the Q3 invoice"), ("task:t2", "Book train to Lyon"))
HABITS = _output("habits", ("habit:run:2026-11-21", "Run"))


def test_the_items_whose_labels_the_tip_repeats() -> None:
    found = tip_items("Book your train to Lyon tonight.", ["tasks"], [TASKS, HABITS])
    assert found == [TipItem("tasks", "task:t2", "Book train to Lyon")]


def test_without_a_shown_label_the_first_item_of_the_first_cited_snippet() -> None:
    found = tip_items("Clear your desk before noon.", ["habits", "tasks"], [TASKS, HABITS])
    assert found == [TipItem("habits", "habit:run:2026-11-21", "Run")]


def test_items_the_model_names_count_only_when_the_tip_shows_them() -> None:
    text = "Send the Q3 invoice, then book the train to Lyon."
    both = tip_items(text, ["tasks"], [TASKS])
    assert [i.ref for i in both] == ["task:t1", "task:t2"]
    assert [i.ref for i in tip_items(text, ["tasks"], [TASKS], ["task:t2"])] == ["task:t2"]
    # A named item the text does not show is ignored: the shown ones stand.
    assert [i.ref for i in tip_items("Book train to Lyon.", ["tasks"], [TASKS], ["task:t1"])] == [
        "task:t2"
    ]


def test_an_agent_without_items_gives_none() -> None:
    assert tip_items("Anything at all here.", ["calendar"], [_output("calendar")]) == []
