"""What one evaluation run produced: a result per scenario, the run's parameters and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ml.evaluation.metrics import Metrics, aggregate
from ml.evaluation.scenario_result import ScenarioResult

# ScenarioResult lived here first: code that imports it from here keeps working.
__all__ = ["EvalRun", "RunParams", "ScenarioResult", "prompt_label"]


def prompt_label(name: str, version: str) -> str:
    """``tip-orchestrator v3`` for a registry version, ``tip-orchestrator file-1a2b`` else."""
    return f"{name} {'v' if version.isdigit() else ''}{version}"


@dataclass(frozen=True, slots=True)
class RunParams:
    prompt_name: str
    prompt_version: str
    alias: str
    resolved_model: str
    judge_alias: str | None
    judge_model: str | None
    candidates: int
    """Answers asked for after a refused first one (1: the first answer only)."""
    dataset_sha256: str
    scenario_count: int
    started_at: str

    @property
    def label(self) -> str:
        return f"{prompt_label(self.prompt_name, self.prompt_version)} · {self.alias}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EvalRun:
    params: RunParams
    results: tuple[ScenarioResult, ...]
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", aggregate(self.results))


def run_document(run: EvalRun) -> dict[str, Any]:
    """One run for ``nudge eval --json``: its parameters, metrics, and each scenario's
    outcome in brief (enough to find the failures without MLflow)."""
    return {
        "params": run.params.as_dict(),
        "metrics": asdict(run.metrics),
        "scenarios": [
            {
                "id": r.scenario_id,
                "fallback_reason": r.fallback_reason,
                "fallback_detail": r.fallback_detail,
                "cited": list(r.cited),
                "grounded": r.grounded,
                "met": r.met,
                "expectations": r.expectations,
                "missed": list(r.missed),
                "consent_violations": list(r.consent_violations),
                "context_violations": list(r.context_violations),
                "latency_ms": r.latency_ms,
                "error": r.error,
            }
            for r in run.results
        ],
    }


def eval_document(runs: Sequence[EvalRun]) -> dict[str, Any]:
    """``metrics`` of the first (or only) run at the top, and every run in ``runs``."""
    documents = [run_document(run) for run in runs]
    return {"metrics": documents[0]["metrics"] if documents else {}, "runs": documents}
