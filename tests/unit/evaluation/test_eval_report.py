"""Rendering runs: tables, the A/B comparison's arrows, CSV, JSON, and the MLflow record."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from ml.evaluation.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, NEUTRAL
from ml.evaluation.report import (
    compare,
    format_metric,
    metrics_table,
    scenario_table,
    verdict,
    write_results,
)
from ml.evaluation.results import EvalRun, RunParams, ScenarioResult
from ml.evaluation.tracking import artifact_location, log_run

PARAMS = RunParams(
    prompt_name="tip-orchestrator",
    prompt_version="3",
    alias="tip-generator",
    resolved_model="openai/smollm2-135m-instruct",
    judge_alias="judge",
    judge_model="openai/smollm2-135m-instruct",
    candidates=3,
    dataset_sha256="ab" * 32,
    scenario_count=2,
    started_at="2026-11-21T10:00:00+00:00",
)


def _run(latency: float, *, grounded: bool, leak: bool = False, version: str = "3") -> EvalRun:
    results = (
        ScenarioResult(
            "paris-overdue-invoice",
            "eval-paris-overdue-invoice",
            tip_id="t1",
            tip='Send "the Q3 invoice", now; it is overdue since Sunday and a long tip indeed.',
            eligible=("tasks",),
            cited=("tasks",),
            grounded=grounded,
            met=4,
            expectations=5,
            missed=("mention '14:00'",),
            latency_ms=latency,
            judged=True,
            judge_score=4,
            judge_reason="Concrete.",
            consent_violations=("sleep: cited by the tip",) if leak else (),
        ),
        ScenarioResult(
            "chicago-empty-user",
            "eval-chicago-empty-user",
            tip_id="t2",
            tip="Nothing needs your attention right now.",
            fallback=True,
            fallback_reason="no_eligible_agents",
            met=3,
            expectations=3,
            latency_ms=1.0,
        ),
    )
    return EvalRun(replace(PARAMS, prompt_version=version), results)


def _text(table: object) -> str:
    console = Console(record=True, width=200, force_terminal=False)
    console.print(table)
    return console.export_text()


@pytest.mark.parametrize(
    ("delta", "direction", "expected"),
    [
        (0.1, HIGHER_IS_BETTER, "[green]▲ better[/green]"),
        (-0.1, HIGHER_IS_BETTER, "[red]▼ worse[/red]"),
        (-120.0, LOWER_IS_BETTER, "[green]▼ better[/green]"),
        (2.0, LOWER_IS_BETTER, "[red]▲ worse[/red]"),
        (3.0, NEUTRAL, "▲"),
        (0.0, LOWER_IS_BETTER, "= same"),
        (None, HIGHER_IS_BETTER, ""),
    ],
)
def test_the_verdict_follows_the_metric_direction(
    delta: float | None, direction: int, expected: str
) -> None:
    assert verdict(delta, direction) == expected


def test_compare_shows_a_b_delta_and_whether_b_is_better() -> None:
    a = _run(2000.0, grounded=False)
    b = _run(1500.0, grounded=True, leak=True, version="4")
    rows = {
        line.split("│")[1].strip(): line
        for line in _text(compare(a, b)).splitlines()
        if line.count("│") > 4
    }
    assert "0.0%" in rows["grounding_rate"] and "100.0%" in rows["grounding_rate"]
    assert "+100.0 pts" in rows["grounding_rate"] and "▲ better" in rows["grounding_rate"]
    assert "-250 ms" in rows["latency_p50_ms"] and "▼ better" in rows["latency_p50_ms"]
    assert "+1" in rows["consent_violations"] and "▲ worse" in rows["consent_violations"]
    assert "= same" in rows["expectation_hit_rate"]
    assert "n/a" in rows["valid_output_rate"] or "= same" in rows["valid_output_rate"]


def test_metrics_are_formatted_by_kind() -> None:
    assert format_metric("grounding_rate", 0.625) == "62.5%"
    assert format_metric("latency_p95_ms", 1234.4) == "1,234 ms"
    assert format_metric("judge_score", 3.456) == "3.46"
    assert format_metric("consent_violations", 0) == "0"
    assert format_metric("judge_coverage", None) == "n/a"


def test_the_tables_show_the_metrics_and_each_scenario() -> None:
    run = _run(1200.0, grounded=True)
    metrics = _text(metrics_table(run))
    assert "tip-orchestrator v3 · tip-generator" in metrics
    assert "expectation_hit_rate" in metrics and "no_eligible_agents 1" in metrics
    scenarios = _text(scenario_table(run, tip_chars=30))
    assert "paris-overdue-invoice" in scenarios and "4/5" in scenarios
    assert "1,200 ms" in scenarios and 'Send "the Q3 invoice", now; i…' in scenarios
    assert "no_eligible_agents" in scenarios


def test_refused_answers_are_reported_by_kind_with_their_message(tmp_path: Path) -> None:
    base = _run(1200.0, grounded=True)
    refused = replace(
        base.results[0],
        scenario_id="tokyo-refused",
        fallback=True,
        fallback_reason="invalid_answer",
        fallback_detail="not JSON: Expecting ',' delimiter: line 1 column 9 (char 8)",
    )
    run = EvalRun(base.params, (*base.results, refused))
    assert "invalid answers: not_json 1" in _text(metrics_table(run))
    _, json_path = write_results(run, tmp_path)
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["metrics"]["invalid_answers"] == {"not_json": 1}
    assert document["results"][2]["fallback_detail"].startswith("not JSON: Expecting")


def test_results_are_written_as_csv_and_json(tmp_path: Path) -> None:
    run = _run(1200.0, grounded=True)
    csv_path, json_path = write_results(run, tmp_path / "out")
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert [r["scenario_id"] for r in rows] == ["paris-overdue-invoice", "chicago-empty-user"]
    assert rows[0]["tip"].startswith('Send "the Q3 invoice", now;')
    assert rows[0]["missed"] == "mention '14:00'" and rows[1]["fallback"] == "True"
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["params"]["prompt_version"] == "3"
    assert document["metrics"]["expectation_hit_rate"] == pytest.approx(0.9)
    assert document["metrics"]["fallback_reasons"] == {"no_eligible_agents": 1}
    assert document["results"][1]["judge_score"] is None


def test_artifacts_of_a_sqlite_store_go_beside_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert artifact_location(uri) == (tmp_path / "mlartifacts").as_uri()
    assert artifact_location("http://mlflow:5000") is None


def test_a_run_is_logged_with_params_metrics_and_artifacts(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = _run(1200.0, grounded=True)
    first, second = log_run(uri, run), log_run(uri, run, experiment="nudge-eval")
    client = MlflowClient(tracking_uri=uri)
    logged = client.get_run(first)
    assert logged.data.params == {
        "prompt_name": "tip-orchestrator",
        "prompt_version": "3",
        "model_alias": "tip-generator",
        "resolved_model": "openai/smollm2-135m-instruct",
        "judge_alias": "judge",
        "judge_model": "openai/smollm2-135m-instruct",
        "candidates": "3",
        "scenario_count": "2",
        "dataset_sha256": "ab" * 32,
    }
    assert logged.data.metrics["expectation_hit_rate"] == pytest.approx(0.9)
    assert "judge_coverage" in logged.data.metrics
    assert logged.data.tags["fallback_reason.no_eligible_agents"] == "1"
    assert {a.path for a in client.list_artifacts(first, "results")} == {
        "results/scenarios.csv",
        "results/scenarios.json",
    }
    assert client.get_run(second).info.experiment_id == logged.info.experiment_id
    assert list((tmp_path / "mlartifacts").rglob("scenarios.json"))
