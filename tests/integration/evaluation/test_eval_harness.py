"""The evaluation harness with the real embedded model, logged to a real MLflow store.

Ten scenarios (the dataset's smoke set) keep it near a minute on two cores: the judge grades
only the first three tips, with a short answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.evaluation.dataset import load_scenarios
from ml.evaluation.harness import run_eval
from ml.evaluation.scenario_clock import SettableClock
from ml.evaluation.tracking import log_run
from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from ml.serving.tip.prompt import PromptTemplate
from nudge.bootstrap import bootstrap
from tests.conftest import MakeSettings

pytestmark = pytest.mark.llm


async def test_the_smoke_set_on_the_embedded_model_is_logged_to_mlflow(
    sqlite_settings: MakeSettings, embedded_llm_url: str, tmp_path: Path
) -> None:
    scenarios = load_scenarios()[:10]
    assert any(not s.consents for s in scenarios), "the smoke set needs a user without consent"
    assert any(s.context in ("vacation", "sleep") for s in scenarios), "and a silenced one"

    settings = sqlite_settings(llm_timeout_s=20.0)
    models = load_model_list(
        settings.litellm_config, substitutions={"embedded_llm": embedded_llm_url}
    )
    nudge = bootstrap(settings, clock=SettableClock(), llm=LiteLLMClient(models))
    prompt = PromptTemplate.load()
    try:
        run = await run_eval(
            nudge,
            scenarios,
            prompt=prompt,
            alias="tip-generator",
            judge_limit=3,
            judge_max_tokens=48,
        )
        stored = {r.scenario_id: nudge.tips.get(r.tip_id or "") for r in run.results}
    finally:
        nudge.stop()

    assert run.metrics.consent_violations == 0, [r.consent_violations for r in run.results]
    assert run.metrics.context_violations == 0, [r.context_violations for r in run.results]
    assert run.metrics.errors == 0, [r.error for r in run.results]
    for result in run.results:
        tip = stored[result.scenario_id]
        assert tip.user_id == f"eval-{result.scenario_id}"
        assert tip.provenance["prompt"]["version"] == prompt.version
        assert tip.provenance["model"]["alias"] == "tip-generator"
        assert {c["agent_id"] for c in tip.provenance["cited"]} <= {
            e["agent_id"] for e in tip.provenance["eligible"]
        }
    assert sum(r.judged for r in run.results) == 3
    refused = [r for r in run.results if r.fallback_reason == "invalid_answer"]
    assert all(r.fallback_detail for r in refused), refused  # the reason reaches the report
    assert sum(run.metrics.invalid_answers.values()) == len(refused)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_run(uri, run)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["prompt_name"] == prompt.name
    assert logged.data.params["prompt_version"] == prompt.version
    assert logged.data.params["model_alias"] == "tip-generator"
    assert logged.data.params["resolved_model"] == "openai/smollm2-135m-instruct"
    assert logged.data.params["scenario_count"] == "10"
    assert logged.data.params["dataset_sha256"] == run.params.dataset_sha256
    assert logged.data.metrics["consent_violations"] == 0
    assert logged.data.metrics["context_violations"] == 0
    assert logged.data.metrics["scenarios"] == 10
    assert "valid_output_rate" in logged.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id, "results")}
    assert artifacts == {"results/scenarios.csv", "results/scenarios.json"}
    csv_file = next((tmp_path / "mlartifacts").rglob("scenarios.csv"))  # beside the database
    assert csv_file.read_text(encoding="utf-8").count("\n") == 11  # header + 10 scenarios
