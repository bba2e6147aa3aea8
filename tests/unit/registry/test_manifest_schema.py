import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml.registry.schema import main, manifest_json_schema, render_schema

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "manifests" / "schema.json"

EXAMPLE = """\
id: calendar
version: 3
name: Calendar
description: Free slots and the next meeting in the coming hours.
entrypoint: ml.agents.calendar:CalendarAgent
schedule: {every: 15m, jitter: 1m}
ttl: 45m
consents: [calendar.read]
silenced_in: [vacation, sleep]
enabled: true
priority: 50
timeout: 5s
reads: [calendar_event]
params:
  horizon_hours: {type: int, default: 12, min: 1, max: 48}
"""


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), (
        "manifests/schema.json is stale: run python -m ml.registry.schema"
    )


def test_main_writes_the_rendered_schema(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_schema()
    assert render_schema().endswith("}\n")


def test_schema_is_titled_and_shows_durations_as_strings() -> None:
    schema = manifest_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Nudge agent manifest"
    ttl = schema["properties"]["ttl"]
    assert ttl["type"] == "string"
    assert "pattern" in ttl
    assert schema["properties"]["timeout"]["default"] == "5s"
    assert schema["additionalProperties"] is False


def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(manifest_json_schema())


def test_schema_accepts_the_documented_example() -> None:
    assert list(validator().iter_errors(yaml.safe_load(EXAMPLE))) == []


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("ttl", "45 mins"),
        ("id", "Calendar"),
        ("colour", "blue"),
        ("template", "Hi"),
        ("consents", ["calendar"]),
        ("priority", 101),
    ],
)
def test_schema_rejects_what_the_model_rejects(change: str, value: object) -> None:
    manifest = yaml.safe_load(EXAMPLE)
    manifest[change] = value
    assert list(validator().iter_errors(manifest))


def test_schema_is_json_serialisable_with_sorted_keys() -> None:
    text = render_schema()
    assert json.loads(text) == manifest_json_schema()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
