"""What an agent run may return: items checked and bounded, state bounded, hidden items
refused."""

from __future__ import annotations

import pytest

from ml.agents.base import ITEMS_MAX, Item, Result, Snippet
from ml.precompute.checked import check_run


def test_items_are_kept_in_order_without_repeats_and_cut_to_the_bound() -> None:
    items = [Item(f"task:t{i}", f"Task {i}") for i in range(ITEMS_MAX + 5)]
    checked = check_run(Snippet("Open tasks.", items=[items[1], items[0], items[1], *items]))
    assert checked.snippet is not None
    refs = [i.ref for i in checked.snippet.items]
    assert refs[:3] == ["task:t1", "task:t0", "task:t2"] and len(refs) == ITEMS_MAX
    assert checked.truncated is True


def test_a_long_label_is_cut_and_its_whitespace_folded() -> None:
    checked = check_run(Snippet("t", items=[Item("article:a1", "  A\nvery " + "long " * 40)]))
    assert checked.snippet is not None
    [item] = checked.snippet.items
    assert item.label.startswith("A very long") and len(item.label) == 80
    assert item.label.endswith("…") and checked.truncated


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (Item("no colon", "x"), "is not <kind>:<key>"),
        (Item("Task:t1", "x"), "is not <kind>:<key>"),
        (Item("task:" + "x" * 300, "x"), "is not <kind>:<key>"),
        (Item("task:t\x001", "x"), "is not <kind>:<key>"),
        (Item("task:t1 ", "x"), "starts or ends with a space"),
        (Item("task:t1", "   "), "needs a non-empty label"),
        ("task:t1", "must be Item values"),
    ],
)
def test_malformed_items_fail_the_run(item: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        check_run(Snippet("t", items=[item]))  # type: ignore[list-item]


def test_an_external_id_with_spaces_is_a_valid_key() -> None:
    checked = check_run(Snippet("t", items=[Item("task:Q3 invoice (draft)", "Invoice")]))
    assert checked.snippet is not None and checked.snippet.items[0].ref == "task:Q3 invoice (draft)"


def test_naming_an_item_the_user_finished_or_hid_fails_the_run() -> None:
    snippet = Snippet("t", items=(Item("task:t1", "Invoice"),))
    with pytest.raises(ValueError, match="mentions item task:t1, which the user finished or hid"):
        check_run(snippet, hidden=frozenset({"task:t1"}))
    assert check_run(snippet, hidden=frozenset({"task:t2"})).snippet == snippet


def test_state_comes_back_as_json_within_its_bound() -> None:
    checked = check_run(Result(None, {"runs": 2, "seen": ["a"]}), state_max_bytes=64)
    assert (checked.snippet, checked.state) == (None, {"runs": 2, "seen": ["a"]})
    assert check_run(Result(Snippet("t"))).state is None  # None keeps the previous state
    with pytest.raises(ValueError, match="state is 31 bytes; this agent's bound is 30"):
        check_run(Result(None, {"blob": "x" * 20}), state_max_bytes=30)


@pytest.mark.parametrize(
    "state",
    [{1: "int key"}, {"f": float("nan")}, {"o": object()}, ["not", "a", "map"], {"n": "\x00"}],
)
def test_state_that_is_not_a_json_object_fails_the_run(state: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        check_run(Result(None, state))  # type: ignore[arg-type]
