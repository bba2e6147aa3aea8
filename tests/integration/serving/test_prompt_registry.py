"""The orchestrator prompt in a real MLflow Prompt Registry (a SQLite tracking store)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from ml.serving.llm.fake import FakeLLM
from ml.serving.prompts.prompt_registry import LivePrompts, PromptRegistry, template_for
from ml.serving.tip.prompt import DEFAULT_PROMPT, PromptError, PromptTemplate
from nudge.bootstrap import bootstrap, build_app
from nudge.cli.main import app
from nudge.demo.seed import seed_demo
from nudge_infra.storage.tables import tips
from tests.conftest import FixedClock, MakeSettings, gateway_headers


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow store with its schema and nothing else (creating one takes seconds)."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    PromptRegistry(f"sqlite:///{path}").versions("anything")
    return path


@pytest.fixture
def mlflow_uri(empty_mlflow_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "mlflow.db"
    shutil.copy(empty_mlflow_db, path)
    return f"sqlite:///{path}"


def variant(tmp_path: Path, system: str, name: str = "tip-orchestrator") -> Path:
    """A copy of the shipped prompt file with another system text."""
    raw = yaml.safe_load(DEFAULT_PROMPT.read_text(encoding="utf-8"))
    raw.update(name=name, system=system)
    path = tmp_path / f"prompt-{abs(hash(system))}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_push_registers_versions_once_per_text_and_moves_aliases(
    mlflow_uri: str, tmp_path: Path
) -> None:
    registry = PromptRegistry(mlflow_uri)
    first = registry.push(DEFAULT_PROMPT, alias="production")
    assert (first.version, first.created) == ("1", True)
    assert registry.push(DEFAULT_PROMPT).created is False  # same text: no new version

    changed = variant(tmp_path, "You are Nudge. Write one short tip, as JSON.")
    second = registry.push(changed, message="shorter system text")
    assert (second.version, second.created) == ("2", True)

    versions = registry.versions("tip-orchestrator")
    assert [v.version for v in versions] == ["2", "1"]
    assert versions[1].aliases == ("production",)
    assert versions[0].message == "shorter system text"
    served = registry.load("tip-orchestrator", "@production")
    assert served.version == "1" and served.digest == PromptTemplate.load().digest
    registry.set_alias("tip-orchestrator", "production", "2")
    assert registry.load("tip-orchestrator", "@production").system.startswith("You are Nudge.")
    assert registry.load("tip-orchestrator", "1").source == PromptTemplate.load().source


@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        ("name: x\nsystem: s\n", "user: required text"),
        ("name: x\nsystem: s\nuser: '{% for %}'\n", "user: line 1"),
        ("name: x\nsystem: s\nuser: 'Hello {{ nobody }}'\n", "does not render"),
        ("name: x\nsystem: s\nuser: 'No snippets here.'\n", "never writes the snippets"),
        ("name: x\nsystem: s\nuser: u\nversion: 3\n", "unknown field(s) version"),
        ("name: 'a b'\nsystem: s\nuser: u\n", "name:"),
        ("[1, 2]", "expected a mapping"),
        ("name: [", "not valid YAML"),
    ],
)
def test_bad_prompt_files_are_refused_before_reaching_the_registry(
    mlflow_uri: str, tmp_path: Path, content: str, mentions: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptError) as caught:
        PromptRegistry(mlflow_uri).push(path)
    assert mentions in str(caught.value)
    assert PromptRegistry(mlflow_uri).versions("x") == []


def test_unknown_versions_and_aliases_are_clear_errors(mlflow_uri: str) -> None:
    registry = PromptRegistry(mlflow_uri)
    registry.push(DEFAULT_PROMPT, alias="production")
    for ref, mentions in [("9", "no version 9"), ("@nope", "no version @nope"), ("x", "neither")]:
        with pytest.raises(PromptError, match=mentions):
            registry.load("tip-orchestrator", ref)
    with pytest.raises(PromptError, match="no version 9"):
        registry.set_alias("tip-orchestrator", "production", "9")
    shipped = PromptTemplate.load()
    assert template_for(registry, "tip-orchestrator", shipped.version, DEFAULT_PROMPT) == shipped
    with pytest.raises(PromptError, match="now holds"):
        template_for(registry, "tip-orchestrator", "file-00000000", DEFAULT_PROMPT)


def test_live_prompts_seed_an_empty_registry_then_follow_the_alias(
    mlflow_uri: str, tmp_path: Path
) -> None:
    registry = PromptRegistry(mlflow_uri)
    live = LivePrompts(
        registry, name="tip-orchestrator", alias="production", shipped=DEFAULT_PROMPT,
        refresh_s=60, pinned=["@candidate", "7"],
    )  # fmt: skip
    assert live.current().version.startswith("file-")  # before the first lookup
    live.refresh()
    assert live.current().version == "1" and live.status()["ok"]
    assert [v.aliases for v in registry.versions("tip-orchestrator")] == [("production",)]

    pushed = registry.push(variant(tmp_path, "Be brief. Reply with JSON."), alias="candidate")
    live.refresh()
    assert live.current().version == "1"  # the alias did not move
    candidate = live.pinned("@candidate")
    assert candidate is not None and candidate.version == pushed.version
    assert live.pinned("7") is None  # no such version: that variant serves no one
    assert live.status()["missing"] == ["7"]

    registry.set_alias("tip-orchestrator", "production", pushed.version)
    live.refresh()
    assert live.current().version == pushed.version


def test_an_unreachable_registry_keeps_the_last_good_prompt(
    monkeypatch: pytest.MonkeyPatch, mlflow_uri: str
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    live = LivePrompts(
        PromptRegistry("http://127.0.0.1:9"), name="tip-orchestrator", alias="production",
        shipped=DEFAULT_PROMPT, refresh_s=60,
    )  # fmt: skip
    live.refresh()
    status = live.status()
    assert status["ok"] is False and status["degraded_only"] is True
    assert "127.0.0.1:9" in status["error"]
    assert live.current() == PromptTemplate.load()


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def served(
    settings_for: MakeSettings, clock: FixedClock, mlflow_uri: str
) -> Iterator[tuple[TestClient, FakeLLM, PromptRegistry]]:
    llm = FakeLLM()
    settings = settings_for(
        prompt_registry="mlflow", mlflow_tracking_uri=mlflow_uri, prompt_refresh_s=0.1
    )
    nudge = bootstrap(settings, clock=clock, llm=llm)
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    with TestClient(build_app(nudge), headers=gateway_headers(nudge)) as client:
        yield client, llm, PromptRegistry(mlflow_uri)


def _tip(client: TestClient, llm: FakeLLM) -> dict[str, str]:
    llm.push(
        json.dumps({"tip": "Send the Q3 invoice now.", "agents": ["tasks"], "rationale": "Due."})
    )
    body = client.get("/v1/users/alice/tip", params={"refresh": True}).json()
    prov = client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    return {"version": prov["prompt"]["version"], "system": llm.requests[-1].messages[0].content}


def test_moving_the_alias_changes_the_version_recorded_on_the_next_tips(
    served: tuple[TestClient, FakeLLM, PromptRegistry], tmp_path: Path
) -> None:
    client, llm, registry = served
    before = _tip(client, llm)
    assert before["version"] == "1"  # the shipped file, registered at first start
    assert client.get("/readyz").json()["checks"]["prompt"]["version"] == "1"

    pushed = registry.push(variant(tmp_path, "You are Nudge, terse. Reply with JSON only."))
    assert _tip(client, llm)["version"] == "1"  # registered, not yet served

    registry.set_alias("tip-orchestrator", "production", pushed.version)
    wait_for(lambda: client.get("/readyz").json()["checks"]["prompt"]["version"] == "2")
    after = _tip(client, llm)
    assert after == {"version": "2", "system": "You are Nudge, terse. Reply with JSON only."}


def test_tips_record_the_version_in_their_row_too(
    served: tuple[TestClient, FakeLLM, PromptRegistry], settings_for: MakeSettings
) -> None:
    client, llm, _ = served
    tip_version = _tip(client, llm)["version"]
    from nudge_infra.storage.engine import make_engine

    engine = make_engine(settings_for().sqlalchemy_url)
    with engine.connect() as conn:
        versions = set(conn.execute(select(tips.c.prompt_version)).scalars())
    engine.dispose()
    assert tip_version in versions


def test_the_request_path_never_imports_mlflow(tmp_path: Path) -> None:
    """Serve a tip in a fresh interpreter with the file prompt: MLflow is never loaded."""
    script = f"""
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.settings import Settings
from tests.conftest import gateway_headers
settings = Settings(data_dir=Path({str(tmp_path)!r}), embedded_llm=False, database_url=None,
                    nats_url=None, watch_manifests=False, scheduler=False, prompt_registry="file")
llm = FakeLLM([json.dumps({{"tip": "Send the Q3 invoice now.", "agents": ["tasks"],
                            "rationale": "Due."}})])
nudge = bootstrap(settings, llm=llm)
seed_demo(nudge, nudge.clock())
nudge.sweeper.sweep_all()
with TestClient(build_app(nudge), headers=gateway_headers(nudge)) as client:
    assert client.get("/v1/users/alice/tip").status_code == 200
print(sorted(m for m in sys.modules if m.split(".")[0] == "mlflow"))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_prompts_commands(mlflow_uri: str, tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_uri, "NUDGE_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    runner = CliRunner()
    pushed = runner.invoke(
        app, ["prompts", "push", str(DEFAULT_PROMPT), "--alias", "production"], env=env
    )
    assert pushed.exit_code == 0, pushed.output
    assert "registered tip-orchestrator version 1" in pushed.output
    again = runner.invoke(app, ["prompts", "push", str(DEFAULT_PROMPT)], env=env)
    assert "unchanged" in again.output and again.exit_code == 0
    other = variant(tmp_path, "Be brief. JSON only.")
    assert runner.invoke(app, ["prompts", "push", str(other)], env=env).exit_code == 0
    moved = runner.invoke(app, ["prompts", "alias", "production", "2"], env=env)
    assert moved.exit_code == 0 and "version 2" in moved.output
    listed = " ".join(runner.invoke(app, ["prompts", "list"], env=env).output.split())
    assert "│ 2 │ production │" in listed
    shown = runner.invoke(app, ["prompts", "show", "@production"], env=env)
    assert "Be brief. JSON only." in shown.output

    missing = runner.invoke(app, ["prompts", "alias", "production", "9"], env=env)
    assert missing.exit_code == 2 and "no version 9" in missing.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: tip-orchestrator\nsystem: s\n", encoding="utf-8")
    refused = runner.invoke(app, ["prompts", "push", str(bad)], env=env)
    assert refused.exit_code == 2 and "user: required text" in refused.output
    absent = runner.invoke(app, ["prompts", "push", str(tmp_path / "absent.yaml")], env=env)
    assert absent.exit_code == 2 and "cannot be read" in absent.output
    bad_alias = runner.invoke(app, ["prompts", "alias", "no way", "1"], env=env)
    assert bad_alias.exit_code == 2


def test_mlflow_is_imported_without_its_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow would otherwise call config.mlflow-telemetry.io: this machine stays offline."""
    from ml.serving.prompts.prompt_registry import offline_mlflow

    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    offline_mlflow.cache_clear()
    offline_mlflow()
    from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY
    from mlflow.telemetry.utils import is_telemetry_disabled

    assert MLFLOW_DISABLE_TELEMETRY.get() is True
    assert is_telemetry_disabled()
