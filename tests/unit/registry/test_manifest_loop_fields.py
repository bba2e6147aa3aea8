"""The manifest fields of the loop: inferred params, dismiss_for, state. A mistake in any of
them rejects the file with its line and field, and every other agent keeps loading."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from test_registry_loader import ECHO, load, only_error, with_line


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            "  horizon_hours: {type: int, default: 12, infer: moon_phase}",
            "params.horizon_hours.infer",
            '"moon_phase" is not a known inferrer (known: active_hour, wake_time, working_hours)',
        ),
        (
            "  horizon_hours: {type: int, default: 12, infer: working_hours}",
            "params.horizon_hours.infer",
            "working_hours infers a str but this param is an int",
        ),
        (
            "  horizon_hours: {type: int, default: 12, infer: wake_time}",
            "params",
            "param horizon_hours infers wake_time from sleep_log; add sleep_log to reads",
        ),
        (
            "  horizon_hours: {type: int, default: 12, infer: wake_time, min_confidence: 2}",
            "params.horizon_hours.min_confidence",
            "must be at most 1.0, got 2",
        ),
    ],
)
def test_a_bad_inferred_param_rejects_the_manifest_with_its_place(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    other = ECHO.replace("id: echo", "id: other")
    registry = load(tmp_path, **{"echo.yaml": with_line(17, line), "other.yaml": other})
    error = only_error(registry)
    assert (Path(error.file).name, error.field) == ("echo.yaml", field)
    assert error.line is not None and error.line >= 16
    assert message in error.message
    assert list(registry.agents) == ["other"]


def test_an_inferred_param_on_a_kind_the_agent_reads_loads(tmp_path: Path) -> None:
    text = with_line(15, "reads: [calendar_event, sleep_log]")
    text = text.replace(
        "horizon_hours: {type: int, default: 12, min: 1, max: 48}",
        "wake: {type: int, default: 420, infer: wake_time, min_confidence: 0.7}",
    )
    registry = load(tmp_path, **{"echo.yaml": text})
    assert not registry.errors
    spec = registry.agents["echo"].manifest.params["wake"]
    assert (spec.infer, spec.min_confidence) == ("wake_time", 0.7)


def test_dismiss_for_and_state_have_defaults_and_bounds(tmp_path: Path) -> None:
    manifest = load(tmp_path, **{"echo.yaml": ECHO}).agents["echo"].manifest
    assert manifest.dismiss_for == timedelta(days=7)
    assert (manifest.state.max_bytes, manifest.state.keep_across_versions) == (4096, False)

    bad = ECHO + "dismiss_for: 400d\nstate: {max_bytes: 1000000}\n"
    errors = load(tmp_path, **{"echo.yaml": bad}).errors
    assert {e.field for e in errors} == {"dismiss_for", "state.max_bytes"}
