"""Explaining and replaying stored tips, on a real database (SQLite, and Postgres when set).

The LLM is scripted here: what is checked is what reached the prompt, what was recorded,
and what explain and replay read back from that record.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from ml.serving.tip.replay import ReplayError, rebuild, rerun
from nudge.cli.main import app
from nudge_infra.storage.tables import tips
from tests.conftest import Database
from tests.integration.serving.tip_env import Env


def _eligible_for(env: Env, user: str) -> dict[str, str]:
    """Ask once with an unusable answer: the fallback's provenance lists the eligible
    agents (id → snippet), in priority order."""
    env.llm.push("not json")
    body = env.client.get(f"/v1/users/{user}/tip", params={"refresh": True}).json()
    prov = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()["provenance"]
    return {e["agent_id"]: e["snippet"] for e in prov["eligible"]}


def _answer_citing(env: Env, agent_id: str, snippet: str) -> str:
    text = f"Act on this now: {snippet[:80]}"
    env.answer(text, [agent_id])
    return text


def test_explain_for_bob_names_the_missing_consent_and_the_vacation(env: Env) -> None:
    registry = env.nudge.registry.current
    snippets = _eligible_for(env, "bob")
    eligible = list(snippets)
    assert eligible, "bob's demo data leaves some agent eligible"
    _answer_citing(env, eligible[0], snippets[eligible[0]])
    body = env.client.get("/v1/users/bob/tip", params={"refresh": True}).json()
    explained = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()

    unused = {u["agent_id"]: u for u in explained["not_used"]}
    assert unused["calendar"]["reason"] == "missing_consent"
    assert unused["calendar"]["missing_consents"] == ["calendar.read"]
    assert unused["calendar"]["why"] == "no consent for calendar.read"
    silenced = [
        a.id
        for a in registry.agents.values()
        if "vacation" in a.manifest.silenced_in and "calendar.read" not in a.manifest.consents
    ]
    assert silenced, "some consented agent is silenced on vacation"
    for agent_id in silenced:
        assert unused[agent_id]["reason"] == "silenced_by_context"
        assert unused[agent_id]["context"] == "vacation"
        assert "vacation" in unused[agent_id]["why"]
    for agent_id in eligible[1:]:
        assert unused[agent_id]["reason"] == "not_cited"

    cited = explained["cited"]
    assert [c["agent_id"] for c in cited] == eligible[:1]
    assert cited[0]["name"] == registry.agents[eligible[0]].manifest.name
    assert cited[0]["snippet"] and cited[0]["version"] == registry.agents[eligible[0]].version
    clause = cited[0]["because"]
    assert clause and explained["because"] == f"Because {clause}."
    assert explained["context"] == "vacation"
    assert explained["prompt"] == {
        "name": "tip-orchestrator",
        "version": env.nudge.prompts.current().version,
    }
    assert explained["model"] == {"alias": "tip-generator", "resolved": "fake/tip-generator"}
    assert set(explained["latency_ms"]) == {"assembly", "llm", "total"}
    assert explained["tokens"]["prompt"] > 0
    assert explained["fallback"] is False, (eligible, explained["provenance"]["llm_error"])
    assert explained["cached"] is False
    assert explained["experiment"] is None


def test_explain_of_a_fallback_without_agents_says_so_plainly(env: Env) -> None:
    assert env.client.put("/v1/users/carol", json={"timezone": "UTC"}).is_success
    body = env.client.get("/v1/users/carol/tip").json()
    explained = env.client.get(f"/v1/tips/{body['tip_id']}/explain").json()
    assert explained["fallback_reason"] == "no_eligible_agents"
    assert explained["cited"] == []
    assert explained["because"].startswith("Because none of your agents")


def test_replay_rebuilds_the_prompt_that_reached_the_model(env: Env) -> None:
    env.answer("Send the Q3 invoice first.", ["tasks"])
    body = env.client.get("/v1/users/alice/tip").json()
    sent = env.llm.requests[-1].messages
    stored = env.nudge.tips.get(body["tip_id"])

    # The user's state moves on; the record alone must rebuild the prompt.
    env.clock.advance(hours=5)
    env.client.put("/v1/users/alice/prefs", json={"preferences": {"tone": "terse"}})
    env.nudge.sweeper.sweep_all()

    rebuilt = rebuild(stored, env.nudge.prompts.current())
    assert rebuilt.identical
    assert rebuilt.prompt.messages == sent
    assert set(rebuilt.snippets) == {e["agent_id"] for e in stored.provenance["eligible"]}

    env.answer("Send the Q3 invoice now.", ["tasks"])
    again = asyncio.run(
        rerun(
            rebuilt,
            llm=env.llm,
            alias="tip-generator",
            config=env.nudge.orchestrator.config,
            prompt_version=env.nudge.prompts.current().version,
        )
    )
    assert again.answer is not None and again.answer.tip == "Send the Q3 invoice now."
    assert env.llm.requests[-1].temperature == 0.0
    assert env.llm.requests[-1].messages == sent


def test_replay_detects_a_record_that_was_altered(env: Env) -> None:
    env.answer("Send the Q3 invoice first.", ["tasks"])
    body = env.client.get("/v1/users/alice/tip").json()
    stored = env.nudge.tips.get(body["tip_id"])
    altered = dict(stored.provenance)
    altered["inputs"] = {**altered["inputs"], "timezone": "Asia/Tokyo"}
    assert not rebuild(replace(stored, provenance=altered), env.nudge.prompts.current()).identical
    del altered["inputs"]
    with pytest.raises(ReplayError, match="before prompts could be rebuilt"):
        rebuild(replace(stored, provenance=altered), env.nudge.prompts.current())


def test_nudge_explain_prints_the_explanation(env: Env, database: Database) -> None:
    snippets = _eligible_for(env, "bob")
    first = next(iter(snippets))
    said = _answer_citing(env, first, snippets[first])
    body = env.client.get("/v1/users/bob/tip", params={"refresh": True}).json()
    settings = env.nudge.settings
    cli_env = {
        "NUDGE_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": database.url,
        "NUDGE_EMBEDDED_LLM": "false",
        "NUDGE_PROMPT_REGISTRY": "file",
        "NATS_URL": None,
        "COLUMNS": "200",
    }
    result = CliRunner().invoke(app, ["explain", body["tip_id"]], env=cli_env)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert said[:40] in text
    assert "Because " in text
    assert "no consent for calendar.read" in text
    assert "silenced by your context vacation" in text
    assert "tip-orchestrator version" in text

    missing = CliRunner().invoke(
        app, ["explain", "00000000-0000-4000-8000-000000000000"], env=cli_env
    )
    assert missing.exit_code == 1 and "does not exist" in missing.output
    malformed = CliRunner().invoke(app, ["explain", "nope"], env=cli_env)
    assert malformed.exit_code == 2 and "not a tip id" in malformed.output


def test_tips_without_replay_data_are_reported_not_crashed(env: Env, tmp_path: Path) -> None:
    env.answer("Send the Q3 invoice first.", ["tasks"])
    body = env.client.get("/v1/users/alice/tip").json()
    stored = env.nudge.tips.get(body["tip_id"])
    legacy = {k: v for k, v in stored.provenance.items() if k != "inputs"}
    with env.nudge.engine.begin() as conn:
        conn.execute(update(tips).where(tips.c.tip_id == stored.tip_id).values(provenance=legacy))
    explained = env.client.get(f"/v1/tips/{stored.tip_id}/explain")
    assert explained.status_code == 200  # explain needs no replay data
    assert json.loads(explained.text)["because"].startswith("Because ")
