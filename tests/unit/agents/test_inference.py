from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ml.agents.base import Signal
from ml.agents.inference import (
    INFERRERS,
    InferenceError,
    InferenceInput,
    Inferred,
    InferredType,
    Inferrer,
    get_inferrer,
    inferrer_names,
    run_inferrer,
)
from ml.agents.inferrers import ACTIVE_HOUR, WAKE_TIME, WORKING_HOURS

NOW = datetime(2026, 5, 15, 22, 30, tzinfo=UTC)  # already Sat 16 May in Berlin
INP = InferenceInput(signals=[], timezone=ZoneInfo("Europe/Berlin"), now=NOW)


def probe(
    compute: Callable[[InferenceInput], object], kind: InferredType = "int", name: str = "probe"
) -> Inferrer:
    """An inferrer whose compute returns whatever the test needs, typed or not."""
    return Inferrer(
        name=name,
        reads=("sleep_log",),
        type=kind,
        min_confidence=0.5,
        description="Test double.",
        compute=compute,  # type: ignore[arg-type]
    )


def returning(value: object, confidence: object = 0.8, observations: object = 3) -> Inferrer:
    result = Inferred(value, confidence, observations)  # type: ignore[arg-type]
    return probe(lambda _: result)


def test_the_input_knows_the_users_local_time() -> None:
    signals = [
        Signal("sleep_log", "a", {}, NOW),
        Signal("tip_feedback", "b", {}, NOW),
    ]
    inp = InferenceInput(signals, ZoneInfo("Europe/Berlin"), NOW, state={"seen": 1})
    assert inp.local_now.isoformat() == "2026-05-16T00:30:00+02:00"
    assert inp.today == date(2026, 5, 16)
    assert [s.external_id for s in inp.of_kind("tip_feedback")] == ["b"]
    assert inp.state == {"seen": 1}
    assert INP.state == {}


def test_the_input_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        InferenceInput([], ZoneInfo("UTC"), datetime(2026, 5, 15, 12))


def test_a_checked_result_comes_back_unchanged() -> None:
    assert run_inferrer(returning(420, 0.75, 7), INP) == Inferred(420, 0.75, 7)
    assert run_inferrer(probe(lambda _: None), INP) is None


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("int", 7.0, 7),  # an integral float is an int
        ("float", 3, 3.0),
        ("str", "09:00-17:30", "09:00-17:30"),
        ("str", "x" * 64, "x" * 64),
        ("bool", False, False),
    ],
)
def test_values_of_the_declared_type_are_accepted(
    kind: InferredType, value: object, expected: object
) -> None:
    result = Inferred(value, 1, 0)  # type: ignore[arg-type]
    checked = run_inferrer(probe(lambda _: result, kind), INP)
    assert checked is not None
    assert checked.value == expected
    assert type(checked.value) is type(expected)
    assert checked.confidence == 1.0 and type(checked.confidence) is float


def test_an_exception_in_compute_names_the_inferrer_and_the_error() -> None:
    def broken(_: InferenceInput) -> Inferred | None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(InferenceError) as caught:
        run_inferrer(probe(broken), INP)
    assert str(caught.value) == "inferrer probe failed: ZeroDivisionError: division by zero"
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_a_huge_exception_message_is_cut() -> None:
    def broken(_: InferenceInput) -> Inferred | None:
        raise KeyError("k" * 10_000)

    with pytest.raises(InferenceError) as caught:
        run_inferrer(probe(broken), INP)
    assert str(caught.value).startswith("inferrer probe failed: KeyError: 'kkk")
    assert len(str(caught.value)) < 200


def test_a_result_that_is_not_inferred_is_refused() -> None:
    with pytest.raises(InferenceError) as caught:
        run_inferrer(probe(lambda _: {"value": 420}), INP)
    assert str(caught.value) == "inferrer probe returned dict, not Inferred or None"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("int", True),  # bool is not an int
        ("int", 7.5),
        ("int", math.nan),
        ("int", math.inf),
        ("int", "7"),
        ("float", False),
        ("float", math.nan),
        ("float", -math.inf),
        ("float", "1.5"),
        ("str", 42),
        ("str", "x" * 65),
        ("str", "09:00\n17:00"),
        ("str", "nul\x00"),
        ("bool", 1),
        ("bool", "true"),
        ("bool", None),
    ],
)
def test_a_value_of_another_type_is_refused(kind: InferredType, value: object) -> None:
    result = Inferred(value, 0.9, 1)  # type: ignore[arg-type]
    with pytest.raises(InferenceError, match=rf"^inferrer probe: value .* is not a valid {kind}"):
        run_inferrer(probe(lambda _: result, kind), INP)


@pytest.mark.parametrize("confidence", [math.nan, math.inf, -0.01, 1.01, True, "0.9", None])
def test_a_confidence_outside_zero_to_one_is_refused(confidence: object) -> None:
    with pytest.raises(InferenceError, match=r"^inferrer probe: confidence .* within \[0, 1\]"):
        run_inferrer(returning(420, confidence=confidence), INP)


@pytest.mark.parametrize("observations", [-1, True, 2.0, "3", None])
def test_observations_must_be_a_count(observations: object) -> None:
    with pytest.raises(InferenceError, match=r"^inferrer probe: observations .* int >= 0"):
        run_inferrer(returning(420, observations=observations), INP)


def test_the_message_shows_only_the_start_of_a_long_value() -> None:
    with pytest.raises(InferenceError) as caught:
        run_inferrer(probe(lambda _: Inferred("y" * 5000, 0.9, 1), "str"), INP)
    assert len(str(caught.value)) < 220
    assert "at most 64 characters" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Wake Time"}, "name must match"),
        ({"reads": ()}, "reads must name at least one kind"),
        ({"type": "list"}, "type 'list' is not one of int, float, str, bool"),
        ({"min_confidence": 1.5}, r"min_confidence must be within \[0, 1\]"),
    ],
)
def test_a_bad_declaration_is_refused(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "probe",
        "reads": ("sleep_log",),
        "type": "int",
        "min_confidence": 0.5,
        "description": "Test double.",
        "compute": lambda _: None,
    }
    with pytest.raises(InferenceError, match=message):
        Inferrer(**(fields | changes))  # type: ignore[arg-type]


def test_the_registry_holds_the_built_ins_by_name() -> None:
    assert inferrer_names() == ["active_hour", "wake_time", "working_hours"]
    assert get_inferrer("wake_time") is WAKE_TIME
    assert get_inferrer("working_hours") is WORKING_HOURS
    assert INFERRERS["active_hour"] is ACTIVE_HOUR
    assert get_inferrer("bedtime") is None
    assert len(INFERRERS) == 3 and "bedtime" not in INFERRERS
    declared = {n: (i.reads, i.type, i.min_confidence) for n, i in INFERRERS.items()}
    assert declared == {
        "active_hour": (("tip_feedback",), "int", 0.4),
        "wake_time": (("sleep_log",), "int", 0.5),
        "working_hours": (("calendar_event",), "str", 0.5),
    }


def test_every_built_in_says_nothing_without_signals() -> None:
    assert [run_inferrer(INFERRERS[name], INP) for name in inferrer_names()] == [None] * 3
