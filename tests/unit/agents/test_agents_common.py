from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ml.agents._format import clip, day, duration, fit, plural, quoted
from ml.agents._payload import (
    bounded_int,
    bounded_number,
    clock_setting,
    integer,
    latest_per_id,
    local_date_or_datetime,
    local_datetime,
    text,
)
from ml.agents._schedule import Meeting, gaps, working_window
from ml.agents.base import Signal

PARIS = ZoneInfo("Europe/Paris")


def test_text_is_one_clean_bounded_line() -> None:
    assert text("  Send\n the\tinvoice \x00 ", 80) == "Send the invoice"
    assert text("x" * 100, 10) == "xxxxxxxxx…"
    assert text("   ", 10) is None
    assert text(42, 10) is None


def test_numbers_reject_bools_and_non_finite_values() -> None:
    assert integer(True) is None
    assert integer(3.0) == 3
    assert integer(3.5) is None
    assert bounded_int({"n": 500}, "n", 3, 0, 30) == 30
    assert bounded_int({"n": "5"}, "n", 3, 0, 30) == 3
    assert bounded_number({"h": float("nan")}, "h", 7.5, 3, 14) == 7.5
    assert bounded_number({"h": 6}, "h", 7.5, 3, 14) == 6.0


def test_clock_settings() -> None:
    assert clock_setting({"t": "8:30"}, "t", time(9)) == time(8, 30)
    assert clock_setting({"t": "24:00"}, "t", time(9)) == time(9)
    assert clock_setting({"t": 830}, "t", time(9)) == time(9)


def test_naive_datetimes_are_the_users_local_time() -> None:
    assert local_datetime("2026-05-12T14:00:00", PARIS) == datetime(2026, 5, 12, 14, tzinfo=PARIS)
    utc = local_datetime("2026-05-12T22:30:00Z", PARIS)
    assert utc is not None and (utc.date(), utc.hour) == (date(2026, 5, 13), 0)
    assert local_datetime("9999-12-31T23:00:00-11:00", PARIS) is None  # beyond datetime.max
    assert local_datetime("2026-05-12T14:00:00" + " " * 100, PARIS) is None


def test_dates_or_datetimes() -> None:
    assert local_date_or_datetime("2026-05-12", PARIS) == (date(2026, 5, 12), None)
    parsed = local_date_or_datetime("2026-05-12T23:30:00+00:00", PARIS)
    assert parsed is not None and parsed[0] == date(2026, 5, 13)
    assert local_date_or_datetime("2026-02-30", PARIS) is None


def test_latest_signal_per_id_wins_whatever_the_order() -> None:
    old = Signal("task", "a", {"v": 1}, datetime(2026, 5, 1, tzinfo=UTC))
    new = Signal("task", "a", {"v": 2}, datetime(2026, 5, 2))  # naive: UTC
    assert latest_per_id([old, new]) == [new]
    assert latest_per_id([new, old]) == [new]


def test_wording() -> None:
    today = date(2026, 5, 12)
    assert [day(date(2026, 5, d), today) for d in (11, 12, 13, 14)] == [
        "yesterday",
        "today",
        "tomorrow",
        "Thu 14 May",
    ]
    assert day(date(2027, 1, 4), today) == "Mon 4 Jan 2027"
    assert [duration(m) for m in (45, 60, 90)] == ["45 min", "1 h", "1 h 30 min"]
    assert plural(1, "day") == "1 day" and plural(2, "day") == "2 days"
    assert quoted('say "hi"') == "\"say 'hi'\""
    assert clip("abcdef", 4) == "abc…"


def test_fit_keeps_whole_sentences_in_order_of_importance() -> None:
    assert fit(["One.", "x" * 50, "Two."], 20) == "One. Two."
    assert fit(["y" * 50], 10) == "yyyyyyyyy…"


def test_gaps_between_overlapping_meetings() -> None:
    window = working_window(date(2026, 5, 12), (time(9), time(18)), PARIS)

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 5, 12, hour, minute, tzinfo=PARIS).astimezone(UTC)

    meetings = [
        Meeting("a", at(8), at(9, 30)),
        Meeting("b", at(10), at(12)),
        Meeting("c", at(11), at(11, 30)),
        Meeting("d", at(17, 30), at(19)),
    ]
    assert [(g.start, g.end) for g in gaps(window, meetings)] == [
        (at(9, 30), at(10)),
        (at(12), at(17, 30)),
    ]


@pytest.mark.parametrize(("day_", "hours"), [(date(2026, 3, 29), 9), (date(2026, 10, 25), 9)])
def test_working_window_is_right_on_clock_change_days(day_: date, hours: int) -> None:
    start, end = working_window(day_, (time(9), time(18)), PARIS)
    assert (end - start).total_seconds() == hours * 3600
