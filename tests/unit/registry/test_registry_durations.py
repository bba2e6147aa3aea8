from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.registry.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("500ms", timedelta(milliseconds=500)),
        ("0s", timedelta(0)),
        ("90m", timedelta(minutes=90)),
        ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
    ],
)
def test_parses_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["15 mins", "", "m", "15", "1m1h", "1.5h", "5 m", "1hh", "-1s", "15M", " 15m", "١m"]
)
def test_rejects_non_durations_naming_the_fix(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == f'"{text}" is not a duration (use e.g. 15m, 1h30m, 45s)'


def test_rejects_a_duration_too_long_for_timedelta() -> None:
    with pytest.raises(ValueError, match="too long a duration"):
        parse_duration("99999999999d")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=2, milliseconds=5), "2d5ms"),
    ],
)
def test_formats_durations(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@pytest.mark.parametrize("value", [timedelta(seconds=-1), timedelta(microseconds=1500)])
def test_refuses_to_format_what_cannot_be_parsed_back(value: timedelta) -> None:
    with pytest.raises(ValueError):
        format_duration(value)


@given(st.integers(min_value=0, max_value=10**12).map(lambda ms: timedelta(milliseconds=ms)))
def test_format_then_parse_is_identity(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
