"""`nudge replay` end to end: a tip written by the real embedded model, replayed by the CLI."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nudge.bootstrap import bootstrap, build_app
from nudge.cli.main import app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from tests.conftest import Database, FixedClock, MakeSettings, gateway_headers
from tests.llm_fixtures import EmbeddedLLMProcess

pytestmark = pytest.mark.llm


@pytest.fixture
def nudge(
    settings_for: MakeSettings, clock: FixedClock, embedded_llm: EmbeddedLLMProcess
) -> Iterator[Nudge]:
    # embedded_llm=False with the fixture's port: the LiteLLM aliases point at that server.
    built = bootstrap(settings_for(embedded_llm_port=embedded_llm.port), clock=clock)
    seed_demo(built, clock())
    built.sweeper.sweep_all()
    yield built
    built.stop()


def test_replay_prints_the_identical_prompt_and_both_tips(
    nudge: Nudge, database: Database, embedded_llm: EmbeddedLLMProcess
) -> None:
    with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as client:
        tip = client.get("/v1/users/alice/tip").json()
    settings = nudge.settings
    env = {
        "NUDGE_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": database.url,
        "NUDGE_EMBEDDED_LLM": "false",
        "NUDGE_EMBEDDED_LLM_PORT": str(embedded_llm.port),
        "NUDGE_PROMPT_REGISTRY": "file",
        "NATS_URL": None,
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(app, ["replay", tip["tip_id"], "--show-prompt"], env=env)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "prompt rebuilt: identical" in text
    stored = nudge.tips.get(tip["tip_id"])
    assert stored.provenance["prompt"]["sha256"][:16] in text
    for entry in stored.provenance["eligible"]:
        assert " ".join(entry["snippet"].split())[:60] in text  # the prompt, as rebuilt
    assert " ".join(stored.text.split())[:40] in text
    assert re.search(r"model answer|invalid answer|timeout|unreachable", text)

    unknown_model = CliRunner().invoke(app, ["replay", tip["tip_id"], "--model", "gpt-9"], env=env)
    assert unknown_model.exit_code == 2 and "gpt-9" in unknown_model.output
    bad_version = CliRunner().invoke(
        app, ["replay", tip["tip_id"], "--prompt-version", "latest"], env=env
    )
    assert bad_version.exit_code == 2
