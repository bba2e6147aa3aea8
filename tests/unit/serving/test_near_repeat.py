"""The near-repeat rule: the closest recent tip by cosine, refused at the threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.serving.tip.near_repeat import MINILM_THRESHOLD, check_repeat


def test_the_closest_recent_tip_is_named_with_its_cosine() -> None:
    check = check_repeat(
        [1.0, 0.0, 0.0],
        {"tip-a": [0.0, 1.0, 0.0], "tip-b": [0.8, 0.6, 0.0], "tip-c": [-1.0, 0.0, 0.0]},
        threshold=0.9,
    )

    assert check.closest_tip == "tip-b"
    assert check.cosine == pytest.approx(0.8)
    assert not check.refused


def test_a_tip_at_or_above_the_threshold_is_refused() -> None:
    assert check_repeat([0.6, 0.8], {"t": [0.6, 0.8]}, threshold=1.0).refused
    assert check_repeat([1.0, 0.0], {"t": [0.8, 0.6]}, threshold=0.8).refused
    assert not check_repeat([1.0, 0.0], {"t": [0.8, 0.6]}, threshold=0.81).refused


def test_vectors_need_not_be_unit_length() -> None:
    """Remote models (Ollama) may answer unnormalised vectors."""
    check = check_repeat(np.array([3.0, 4.0]), {"t": np.array([30.0, 40.0])}, threshold=0.99)

    assert check.cosine == pytest.approx(1.0)
    assert check.refused


def test_no_recent_tip_refuses_nothing() -> None:
    check = check_repeat([1.0, 2.0], {}, threshold=0.5)

    assert (check.closest_tip, check.cosine, check.refused) == (None, 0.0, False)


def test_a_zero_vector_is_similar_to_nothing() -> None:
    assert check_repeat([0.0, 0.0], {"t": [1.0, 0.0]}, threshold=0.1).cosine == 0.0
    assert check_repeat([1.0, 0.0], {"t": [0.0, 0.0]}, threshold=0.1).cosine == 0.0


def test_vectors_of_another_model_are_an_error_that_names_them() -> None:
    with pytest.raises(ValueError, match=r"\['old'\].*3 dimensions.*re-embed"):
        check_repeat([1.0, 0.0, 0.0], {"new": [1.0, 0.0, 0.0], "old": [1.0, 0.0]}, threshold=0.9)


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.01, math.nan])
def test_a_threshold_outside_zero_to_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        check_repeat([1.0], {"t": [1.0]}, threshold=threshold)


@pytest.mark.parametrize("bad", [[], [[1.0, 0.0]], [math.nan, 1.0], [math.inf, 0.0]])
def test_empty_nested_or_non_finite_vectors_are_refused(bad: list[object]) -> None:
    with pytest.raises(ValueError, match="candidate"):
        check_repeat(bad, {"t": [1.0, 0.0]}, threshold=0.9)  # type: ignore[arg-type]


def test_the_shipped_threshold_is_a_cosine() -> None:
    assert 0.0 < MINILM_THRESHOLD <= 1.0


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_subnormal=False)


@given(
    candidate=st.lists(finite, min_size=4, max_size=4),
    recent=st.dictionaries(
        st.text(min_size=1, max_size=5), st.lists(finite, min_size=4, max_size=4), max_size=6
    ),
    scale=st.floats(min_value=1e-3, max_value=1e3),
)
def test_the_verdict_is_the_best_cosine_whatever_the_scale(
    candidate: list[float], recent: dict[str, list[float]], scale: float
) -> None:
    check = check_repeat(candidate, recent, threshold=0.9)
    scaled = check_repeat([x * scale for x in candidate], recent, threshold=0.9)

    assert -1.0 <= check.cosine <= 1.0
    assert scaled.cosine == pytest.approx(check.cosine, abs=1e-9)
    if recent:
        assert check.closest_tip in recent
        assert check.cosine >= max(_cosine(candidate, v) for v in recent.values()) - 1e-9


def _cosine(a: list[float], b: list[float]) -> float:
    na, nb = math.hypot(*a), math.hypot(*b)
    return 0.0 if na == 0 or nb == 0 else sum(x * y for x, y in zip(a, b, strict=True)) / na / nb
