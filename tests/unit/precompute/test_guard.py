"""The guard around agent code: output checks and the watchdog, with small fake agents."""

from __future__ import annotations

import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import (
    FACTS_MAX_BYTES,
    SNIPPET_MAX_CHARS,
    SUGGESTION_MAX_CHARS,
    AgentInput,
    Snippet,
    UserView,
)
from ml.precompute.checked import check_output
from ml.precompute.guard import run_batch

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def inputs(*user_ids: str) -> list[AgentInput]:
    return [AgentInput(UserView(u, ZoneInfo("UTC")), NOW, [], {}) for u in user_ids]


class FakeAgent:
    """Runs ``behave(user_id)`` and remembers who it ran for."""

    def __init__(self, behave: Callable[[str], Any]) -> None:
        self.behave = behave
        self.calls: list[str] = []

    def compute(self, inp: AgentInput) -> Any:
        self.calls.append(inp.user.user_id)
        return self.behave(inp.user.user_id)


def hello(user_id: str) -> Snippet:
    return Snippet(text=f"hello {user_id}")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event a hanging fake waits on; set at teardown so no thread outlives the test."""
    event = threading.Event()
    yield event
    event.set()


# check_output


def test_none_means_nothing_to_say() -> None:
    assert check_output(None) == (None, False)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a plain string", "agent returned str, expected Snippet or None"),
        ({"text": "a dict"}, "agent returned dict, expected Snippet or None"),
        (Snippet(text="   "), "snippet text must be a non-empty string"),
        (Snippet(text=42), "snippet text must be a non-empty string"),  # type: ignore[arg-type]
        (Snippet(text="ok", suggestion=7), "suggestion must be a string"),  # type: ignore[arg-type]
    ],
)
def test_a_value_of_the_wrong_shape_is_refused(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        check_output(value)


@pytest.mark.parametrize(
    "facts",
    [{"tags": {"a"}}, {"when": NOW}, {"score": math.nan}, {"score": math.inf}, {(1, 2): "x"}],
)
def test_facts_that_are_not_strict_json_are_refused(facts: dict[Any, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        check_output(Snippet(text="ok", facts=facts))


@pytest.mark.parametrize(
    "snippet",
    [
        Snippet(text="a\x00b"),
        Snippet(text="ok", suggestion="a\x00b"),
        Snippet(text="ok", facts={"note": "a\x00b"}),
    ],
)
def test_nul_characters_are_refused(snippet: Snippet) -> None:
    # Postgres cannot store NUL in text or jsonb: the insert would fail the whole batch.
    with pytest.raises(ValueError, match="NUL"):
        check_output(snippet)


def test_a_valid_snippet_is_trimmed_and_kept() -> None:
    snippet, truncated = check_output(
        Snippet(text="  Two tasks are due.\n", suggestion="  ", facts={"due": 2, "ok": True})
    )
    assert snippet == Snippet(
        text="Two tasks are due.", suggestion=None, facts={"due": 2, "ok": True}
    )
    assert truncated is False


def test_text_at_the_limit_is_not_truncated() -> None:
    text = "x" * SNIPPET_MAX_CHARS
    snippet, truncated = check_output(Snippet(text=text))
    assert snippet is not None and snippet.text == text and truncated is False


def test_oversize_text_and_suggestion_are_cut_to_the_limit() -> None:
    snippet, truncated = check_output(
        Snippet(text="y" * (SNIPPET_MAX_CHARS + 1), suggestion="z" * (SUGGESTION_MAX_CHARS * 2))
    )
    assert truncated is True and snippet is not None
    assert snippet.text == "y" * (SNIPPET_MAX_CHARS - 1) + "…"
    assert snippet.suggestion == "z" * (SUGGESTION_MAX_CHARS - 1) + "…"


def test_oversize_facts_are_replaced_by_a_marker() -> None:
    snippet, truncated = check_output(Snippet(text="ok", facts={"blob": "b" * FACTS_MAX_BYTES}))
    assert truncated is True and snippet is not None
    assert snippet.facts == {"truncated": True} and snippet.text == "ok"


# run_batch


def test_every_user_gets_an_outcome_in_order() -> None:
    agent = FakeAgent(lambda u: None if u == "quiet" else hello(u))
    result = run_batch("echo", agent, inputs("a", "quiet", "c"), timeout_s=2)
    assert result.timed_out_user is None
    assert [(o.user_id, o.snippet, o.error) for o in result.outcomes] == [
        ("a", Snippet(text="hello a"), None),
        ("quiet", None, None),
        ("c", Snippet(text="hello c"), None),
    ]


def test_no_inputs_no_outcomes() -> None:
    result = run_batch("echo", FakeAgent(hello), [], timeout_s=1)
    assert result.outcomes == [] and result.timed_out_user is None


def test_a_raising_or_invalid_run_is_that_users_error_only() -> None:
    def behave(user_id: str) -> Any:
        if user_id == "boom":
            raise KeyError("calendar")
        if user_id == "odd":
            return ["not", "a", "snippet"]
        if user_id == "long":
            raise ValueError("x" * 2000)
        return hello(user_id)

    result = run_batch(
        "mixed", FakeAgent(behave), inputs("a", "boom", "odd", "long", "z"), timeout_s=2
    )

    errors = {o.user_id: o.error for o in result.outcomes}
    assert list(errors) == ["a", "boom", "odd", "long", "z"]
    assert errors["a"] is None and errors["z"] is None
    assert errors["boom"] == "KeyError: 'calendar'"
    assert errors["odd"] == "TypeError: agent returned list, expected Snippet or None"
    assert errors["long"] is not None and len(errors["long"]) == 500
    assert errors["long"].startswith("ValueError: xxx")


def test_sys_exit_in_agent_code_is_that_users_error_and_the_batch_goes_on() -> None:
    def behave(user_id: str) -> Snippet:
        if user_id == "quitter":
            sys.exit(3)
        return hello(user_id)

    result = run_batch("exit", FakeAgent(behave), inputs("a", "quitter", "z"), timeout_s=2)

    assert result.timed_out_user is None
    assert [(o.user_id, o.error) for o in result.outcomes] == [
        ("a", None),
        ("quitter", "SystemExit: 3"),
        ("z", None),
    ]


def test_a_hung_run_stops_the_batch_within_the_timeout(release: threading.Event) -> None:
    def behave(user_id: str) -> Snippet:
        if user_id == "hang":
            release.wait(30)
        return hello(user_id)

    agent = FakeAgent(behave)
    started = time.monotonic()
    result = run_batch("stuck", agent, inputs("a", "hang", "z"), timeout_s=0.2)
    elapsed = time.monotonic() - started

    assert 0.2 <= elapsed < 0.2 + 0.5
    assert result.timed_out_user == "hang"
    assert [o.user_id for o in result.outcomes] == ["a"]
    release.set()
    time.sleep(0.1)
    assert agent.calls == ["a", "hang"], "an abandoned batch never runs the next user"


@pytest.mark.parametrize("attempt", range(3))
def test_a_run_that_overruns_then_returns_is_still_a_timeout(attempt: int) -> None:
    # The watchdog looks every 50 ms. "slow" starts ~30 ms in and ends ~135 ms in, just
    # after its timeout and before the watchdog's look at ~150 ms: it must be reported as
    # a timeout, not end the batch silently with the rest of the users lost.
    def behave(user_id: str) -> Snippet:
        time.sleep({"a": 0.03, "slow": 0.105}.get(user_id, 0))
        return hello(user_id)

    agent = FakeAgent(behave)
    result = run_batch("slow", agent, inputs("a", "slow", "z"), timeout_s=0.1)

    assert result.timed_out_user == "slow"
    assert [o.user_id for o in result.outcomes] == ["a"]
    time.sleep(0.05)
    assert agent.calls == ["a", "slow"]


def test_a_slow_run_warns_but_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    def behave(user_id: str) -> Snippet:
        if user_id == "slow":
            time.sleep(0.3)
        return hello(user_id)

    with caplog.at_level(logging.WARNING, logger="ml.precompute.guard"):
        result = run_batch("sluggish", FakeAgent(behave), inputs("slow", "z"), timeout_s=0.5)

    assert result.timed_out_user is None
    assert [o.user_id for o in result.outcomes] == ["slow", "z"]
    slow = [r.getMessage() for r in caplog.records if "is slow" in r.getMessage()]
    assert len(slow) == 1 and re.fullmatch(
        r"agent sluggish is slow: 0\.\d\ds for one user", slow[0]
    )
