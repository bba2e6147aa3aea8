"""`nudge simulate`, `nudge eval policy` and the dry run's items, params and state."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path

import pytest
from mlflow import MlflowClient

import nudge.bootstrap
from ml.serving.llm.fake import FakeLLM
from ml.serving.prompts.prompt_registry import offline_mlflow
from nudge.settings import Settings
from tests.conftest import Database, FixedClock
from tests.integration.shell.test_cli import Env, base_env, flat, run


@pytest.fixture
def cli_env(
    database: Database, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Env:
    """The CLI on the test database and the test's clock (as in test_cli)."""
    monkeypatch.setattr(
        nudge.bootstrap, "bootstrap", partial(nudge.bootstrap.bootstrap, clock=clock)
    )
    return {**base_env(tmp_path / "data"), "DATABASE_URL": database.url}


def test_simulate_runs_three_arms_and_writes_json_and_an_mlflow_run(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    out = tmp_path / "sim.json"
    result = run(env, "simulate", "--users", "3", "--days", "2", "--seed", "7", "--json", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["config"] == {
        "users": 3, "days": 2, "seed": 7, "llm": "stub", "top_k": 2, "epsilon": 0.1,
        "policy": "bayes-ucb",
    }  # fmt: skip
    for arm in ("learned", "static", "oracle"):
        curve = document["acceptance_by_day"][arm]
        assert len(curve) == 2 and all(0 <= x <= 1 for x in curve)
    assert document["done_item_repeats"] == 0
    off = document["off_policy"]
    assert (off["logged_by"], set(off["targets"])) == ("bayes-ucb", {"static", "thompson"})
    assert off["n"] == 3 * 2 * 3  # every visit's tip chose among candidates
    for found in off["targets"].values():
        assert set(found) >= {"true", "ips", "snips", "dr", "snips_se", "effective_n"}
        assert 0 <= found["true"] <= 1 and found["snips_se"] >= 0
    assert "learned ÷ static" in flat(result.stdout)
    assert "other policies estimated from the bayes-ucb run's 18 tips" in flat(result.stdout)

    offline_mlflow()
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'data' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("nudge-simulate")
    assert experiment is not None
    [logged] = client.search_runs([experiment.experiment_id])
    assert logged.data.params["users"] == "3"
    names = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert names == {"acceptance.png", "simulation.json"}
    history = client.get_metric_history(logged.info.run_id, "acceptance_by_day_learned")
    assert [m.step for m in history] == [1, 2]


def test_the_same_seed_gives_the_same_simulation(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    documents = []
    for name in ("a.json", "b.json"):
        args = ("simulate", "--users", "2", "--days", "2", "--seed", "3", "--no-mlflow")
        assert run(env, *args, "--json", str(tmp_path / name)).exit_code == 0
        documents.append(json.loads((tmp_path / name).read_text()))
    for document in documents:
        document.pop("elapsed_s")
    assert documents[0] == documents[1]


def test_simulate_refuses_nonsense_arguments(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    for args in (("--users", "0"), ("--days", "1"), ("--llm", "gpt-9")):
        result = run(env, "simulate", *args)
        assert result.exit_code == 2, (args, result.output)


def test_eval_policy_estimates_from_the_logged_tips(cli_env: Env) -> None:
    env = cli_env
    empty = run(env, "eval", "policy")
    assert empty.exit_code == 1 and "no logged tip carries a policy record" in empty.output
    assert run(env, "seed-demo").exit_code == 0
    settings = Settings(
        data_dir=Path(str(env["NUDGE_DATA_DIR"])),
        database_url=env["DATABASE_URL"],
        embedded_llm=False,
        watch_manifests=False,
        scheduler=False,
        prompt_registry="file",
    )
    made = nudge.bootstrap.bootstrap(settings, llm=FakeLLM())  # the test's clock (fixture)
    try:
        made.sweeper.sweep_all()
        for user in ("alice", "bob"):
            asyncio.run(made.orchestrator.tip_for(user))  # fallback tips: no answer queued
    finally:
        made.stop()
    result = run(env, "eval", "policy", "--target", "static")
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if line.startswith("│")]
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[0] == "2"  # two logged tips, both fallbacks nobody answered: nothing done
    assert cells[2:5] == ["0.000", "0.000 ± 0.000", "0.000 ± 0.000"]  # IPS, SNIPS
    assert "95 % interval" in flat(result.stdout)


def test_dry_run_shows_items_params_with_their_source_and_state(cli_env: Env) -> None:
    env = cli_env
    assert run(env, "seed-demo").exit_code == 0
    result = run(env, "agents", "dry-run", "tasks", "--user", "alice")
    assert result.exit_code == 0, result.output
    assert '"ref": "task:task-1"' in result.stdout
    assert '"source": "default"' in result.stdout and "state before" in result.stdout
