"""Kind files: a bad one stops the start with the file and the field named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nudge.settings import Settings
from nudge_profile.signal_kinds import SignalKindError, SignalKinds

GOOD = """
description: A glass of water.
schema:
  type: object
  additionalProperties: false
  required: [date]
  properties:
    date: {type: string, format: date-or-local-date-time}
example: {date: "2026-11-21"}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_dropped_in_file_is_a_new_kind_with_the_default_retention(tmp_path: Path) -> None:
    write(tmp_path, "water_log.yaml", GOOD)
    kinds = SignalKinds.load(tmp_path)
    assert kinds.names == ["water_log"]
    kind = kinds.get("water_log")
    assert kind is not None and kind.retention == timedelta(days=30) and not kind.reserved
    assert list(kind.problems({"date": "2026-11-21"})) == []
    assert list(kind.problems({"date": "2026-13-01"})) == [
        ("payload.date", "month must be in 1..12")
    ]


def test_the_shipped_kinds_load() -> None:
    kinds = SignalKinds.load(Settings().signal_kinds_dir)
    assert {"task", "calendar_event", "sleep_log", "habit_checkin", "article"} <= set(kinds.names)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("Water.yaml", GOOD, "Water.yaml: 'Water' is not a kind name"),
        ("w.yaml", GOOD + "colour: blue\n", "w.yaml: unknown field(s) ['colour']"),
        ("w.yaml", GOOD.replace("description: A glass of water.", ""), "w.yaml: description"),
        ("w.yaml", GOOD + "retention_days: 0\n", "w.yaml: retention_days: a whole number"),
        ("w.yaml", GOOD + "reserved: maybe\n", "w.yaml: reserved: true or false"),
        ("w.yaml", GOOD.replace("type: string", "type: text"), "w.yaml: schema at properties/date"),
        ("w.yaml", GOOD.replace('"2026-11-21"', '"soon"'), "w.yaml: example: payload.date"),
        ("w.yaml", GOOD.replace("type: object", "type: array"), "a payload is an object"),
        ("w.yaml", "description: [unclosed", "w.yaml: cannot be read"),
        ("w.yaml", "- a list", "w.yaml: must be a mapping"),
    ],
)
def test_a_bad_kind_file_is_refused_naming_file_and_field(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    write(tmp_path, name, text)
    with pytest.raises(SignalKindError) as refused:
        SignalKinds.load(tmp_path)
    assert message in str(refused.value)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(SignalKindError, match="signal kinds folder does not exist"):
        SignalKinds.load(tmp_path / "nowhere")


def test_a_kind_marked_reserved_is_refused_to_a_gateway(tmp_path: Path) -> None:
    from nudge_profile.signals import SignalBatch

    write(tmp_path, "water_log.yaml", GOOD + "reserved: true\n")
    write(tmp_path, "task.yaml", GOOD)
    kinds = SignalKinds.load(tmp_path)
    assert kinds.reserved == {"water_log"}
    item = {
        "external_id": "w",
        "payload": {"date": "2026-11-21"},
        "occurred_at": "2026-11-21T08:00:00Z",
    }
    batch = SignalBatch.model_validate(
        {"signals": [{"kind": "task", **item}, {"kind": "water_log", **item}]}
    )
    assert batch.reserved(kinds) == [
        {"index": 1, "field": "kind", "reason": "kind 'water_log' is reserved for Nudge"}
    ]
