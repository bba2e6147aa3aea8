"""Log an evaluation run to MLflow: parameters, metrics, and the per-scenario results."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ml.evaluation.report import write_results
from ml.evaluation.results import EvalRun, RunParams

if TYPE_CHECKING:
    from mlflow import MlflowClient

ARTIFACTS_DIR = "mlartifacts"
RESULTS_PATH = "results"


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment keeps its artifacts: beside a SQLite tracking store.

    Without it MLflow writes to ``./mlruns`` in whatever directory the command runs
    from. Servers (http, databricks...) choose for themselves: None.
    """
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    database = Path(tracking_uri[len(prefix) :]).resolve()
    return (database.parent / ARTIFACTS_DIR).as_uri()


def log_run(tracking_uri: str, run: EvalRun, *, experiment: str = "nudge-eval") -> str:
    """Record ``run`` in the MLflow tracking store at ``tracking_uri``; return the run id."""
    # Imported here: MLflow is heavy, and only commands that track runs need it.
    from ml.serving.prompts.prompt_registry import offline_mlflow

    offline_mlflow()  # first, so that MLflow never phones home
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_key = experiment_id(client, experiment, tracking_uri)
    p = run.params
    created = client.create_run(
        experiment_key,
        run_name=f"{p.prompt_name}-v{p.prompt_version}-{p.alias}",
        tags={"nudge.kind": "evaluation", "nudge.started_at": p.started_at},
    )
    run_id: str = created.info.run_id
    try:
        _log_contents(client, run_id, run)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    return run_id


def experiment_id(client: MlflowClient, experiment: str, tracking_uri: str) -> str:
    """Find the experiment named ``experiment``, or create it."""
    # Only reached from log_run, after offline_mlflow: importing MLflow here is safe.
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(
            experiment, artifact_location=artifact_location(tracking_uri)
        )
    except MlflowException:  # created meanwhile by another run
        again = client.get_experiment_by_name(experiment)
        if again is None:
            raise
        return again.experiment_id


def _params(p: RunParams) -> dict[str, str]:
    return {
        "prompt_name": p.prompt_name,
        "prompt_version": p.prompt_version,
        "model_alias": p.alias,
        "resolved_model": p.resolved_model,
        "judge_alias": p.judge_alias or "none",
        "judge_model": p.judge_model or "none",
        "candidates": str(p.candidates),
        "scenario_count": str(p.scenario_count),
        "dataset_sha256": p.dataset_sha256,
    }


def _log_contents(client: MlflowClient, run_id: str, run: EvalRun) -> None:
    """Log the run's metrics, parameters, fallback counts and per-scenario results."""
    from mlflow.entities import Metric, Param, RunTag

    now_ms = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now_ms, 0) for k, v in run.metrics.numbers().items()],
        params=[Param(k, v) for k, v in _params(run.params).items()],
        tags=[
            *(
                RunTag(f"fallback_reason.{k}", str(v))
                for k, v in run.metrics.fallback_reasons.items()
            ),
            *(
                RunTag(f"invalid_answer.{k}", str(v))
                for k, v in run.metrics.invalid_answers.items()
            ),
        ],
    )
    with tempfile.TemporaryDirectory(prefix="nudge-eval-") as tmp:
        for path in write_results(run, Path(tmp)):
            client.log_artifact(run_id, str(path), artifact_path=RESULTS_PATH)
