"""Render evaluation runs: metric and per-scenario tables, a comparison, CSV and JSON files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import JustifyMethod
from rich.markup import escape
from rich.table import Table

from ml.evaluation.metrics import DIRECTIONS, NEUTRAL, Metrics
from ml.evaluation.results import EvalRun
from ml.evaluation.scenario_result import ScenarioResult

_RATES = {
    "valid_output_rate",
    "grounding_rate",
    "expectation_hit_rate",
    "fallback_rate",
    "judge_coverage",
}
_MILLISECONDS = {"latency_p50_ms", "latency_p95_ms"}
RESULTS_CSV = "scenarios.csv"
RESULTS_JSON = "scenarios.json"


def format_metric(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name in _RATES:
        return f"{value:.1%}"
    if name in _MILLISECONDS:
        return f"{value:,.0f} ms"
    if name == "judge_score":
        return f"{value:.2f}"
    return f"{value:g}"


def _values(metrics: Metrics) -> dict[str, float | None]:
    return {name: getattr(metrics, name) for name in DIRECTIONS}


def metrics_table(run: EvalRun) -> Table:
    title = f"Evaluation: {run.params.label} ({run.params.resolved_model})"
    table = Table(title=escape(title), min_width=len(title))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in _values(run.metrics).items():
        style = "red" if name.endswith("violations") and value else None
        table.add_row(name, format_metric(name, value), style=style)
    captions = []
    if run.metrics.fallback_reasons:
        reasons = ", ".join(f"{k} {v}" for k, v in run.metrics.fallback_reasons.items())
        captions.append(f"fallback reasons: {reasons}")
    if run.metrics.invalid_answers:
        kinds = ", ".join(f"{k} {v}" for k, v in run.metrics.invalid_answers.items())
        captions.append(f"invalid answers: {kinds}")
    if captions:
        table.caption = escape("\n".join(captions))
    return table


def scenario_table(run: EvalRun, *, tip_chars: int = 60) -> Table:
    table = Table(title=escape(f"Scenarios: {run.params.label}"))
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("id", "left"),
        ("fallback", "left"),
        ("grounded", "center"),
        ("hits", "right"),
        ("violations", "right"),
        ("judge", "right"),
        ("latency", "right"),
        ("tip", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for result in run.results:
        table.add_row(*_scenario_cells(result, tip_chars))
    return table


def _scenario_cells(result: ScenarioResult, tip_chars: int) -> list[str]:
    if result.error is not None:
        return [
            result.scenario_id,
            "",
            "",
            f"0/{result.expectations}",
            "",
            "",
            "",
            f"[red]error: {escape(result.error[:tip_chars])}[/red]",
        ]
    violations = len(result.consent_violations) + len(result.context_violations)
    tip = result.tip if len(result.tip) <= tip_chars else result.tip[: tip_chars - 1] + "…"
    grounded = {True: "yes", False: "no", None: "-"}[result.grounded]
    latency = f"{result.latency_ms:,.0f} ms" if result.latency_ms is not None else "n/a"
    return [
        result.scenario_id,
        escape(result.fallback_reason or "no") if result.fallback else "no",
        grounded,
        f"{result.met}/{result.expectations}",
        f"[red]{violations}[/red]" if violations else "0",
        str(result.judge_score) if result.judge_score is not None else "-",
        latency,
        escape(tip),
    ]


def compare(a: EvalRun, b: EvalRun) -> Table:
    """Metric by metric: A, B and B - A, with an arrow saying whether B is better."""
    title = f"A: {a.params.label}  vs  B: {b.params.label}"
    table = Table(title=escape(title), min_width=len(title))
    for column in ("metric", "A", "B", "delta", ""):
        table.add_column(column, justify="left" if column in ("metric", "") else "right")
    values_a, values_b = _values(a.metrics), _values(b.metrics)
    for name, direction in DIRECTIONS.items():
        left, right = values_a[name], values_b[name]
        # Compared as shown: a change too small to print is no change.
        delta = None if left is None or right is None else round(right - left, _digits(name))
        table.add_row(
            name,
            format_metric(name, left),
            format_metric(name, right),
            _format_delta(name, delta),
            verdict(delta, direction),
        )
    return table


def _digits(name: str) -> int:
    if name in _RATES:
        return 3
    if name in _MILLISECONDS:
        return 0
    return 2


def verdict(delta: float | None, direction: int) -> str:
    """An arrow for the change and whether it is an improvement for this metric."""
    if delta is None:
        return ""
    if delta == 0:
        return "= same"
    arrow = "▲" if delta > 0 else "▼"
    if direction == NEUTRAL:
        return arrow
    better = (delta > 0) == (direction > 0)
    return f"[green]{arrow} better[/green]" if better else f"[red]{arrow} worse[/red]"


def _format_delta(name: str, delta: float | None) -> str:
    if delta is None:
        return "n/a"
    if name in _RATES:
        return f"{delta * 100:+.1f} pts"
    if name in _MILLISECONDS:
        return f"{delta:+,.0f} ms"
    if name == "judge_score":
        return f"{delta:+.2f}"
    return f"{delta:+g}"


def write_results(run: EvalRun, directory: Path) -> tuple[Path, Path]:
    """Write the per-scenario results as CSV, and everything (params, metrics) as JSON."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [r.row() for r in run.results]
    csv_path, json_path = directory / RESULTS_CSV, directory / RESULTS_JSON
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ScenarioResult("", "").row()))
        writer.writeheader()
        writer.writerows(rows)
    document = {
        "params": run.params.as_dict(),
        "metrics": {
            **{name: getattr(run.metrics, name) for name in DIRECTIONS},
            "fallback_reasons": run.metrics.fallback_reasons,
            "invalid_answers": run.metrics.invalid_answers,
        },
        "results": rows,
    }
    json_path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return csv_path, json_path
