from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml.agents.base import Agent
from ml.agents.template import TemplateAgent

MANIFESTS = Path(__file__).parents[3] / "manifests"

EXPECTED = {
    "tasks": ("ml.agents.tasks:TasksAgent", ["task"], ["tasks.read"], ["vacation", "sleep"], 70),
    "calendar": (
        "ml.agents.calendar:CalendarAgent",
        ["calendar_event"],
        ["calendar.read"],
        ["vacation", "sleep"],
        60,
    ),
    "habits": ("ml.agents.habits:HabitsAgent", ["habit_checkin"], ["habits.read"], ["sleep"], 50),
    "focus": (
        "ml.agents.focus:FocusAgent",
        ["calendar_event"],
        ["calendar.read"],
        ["vacation", "sleep"],
        40,
    ),
    "feedback_history": (
        "ml.agents.feedback_history:FeedbackHistoryAgent",
        ["tip_feedback"],
        [],
        [],
        10,
    ),
    "sleep": ("ml.agents.sleep:SleepAgent", ["sleep_log"], ["health.read"], [], 55),
    "reading_list": (None, ["article"], ["reading.read"], ["sleep"], 20),
}


def load(agent_id: str) -> dict[str, Any]:
    manifest = yaml.safe_load((MANIFESTS / f"{agent_id}.yaml").read_text())
    assert isinstance(manifest, dict)
    return manifest


@pytest.mark.parametrize("agent_id", sorted(EXPECTED))
def test_manifest_declares_what_the_agent_needs(agent_id: str) -> None:
    manifest = load(agent_id)
    entrypoint, reads, consents, silenced_in, priority = EXPECTED[agent_id]
    assert manifest["id"] == agent_id
    assert manifest.get("entrypoint") == entrypoint
    assert ("template" in manifest) == (entrypoint is None)
    assert manifest["reads"] == reads
    assert manifest["consents"] == consents
    assert manifest["silenced_in"] == silenced_in
    assert manifest["priority"] == priority
    assert manifest["enabled"] is True
    assert len(manifest["description"]) <= 500
    for name, spec in manifest.get("params", {}).items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
        if spec["type"] in ("int", "float"):
            assert spec["min"] <= spec["default"] <= spec["max"]


@pytest.mark.parametrize("agent_id", sorted(EXPECTED))
def test_manifest_builds_an_agent(agent_id: str) -> None:
    manifest = load(agent_id)
    if "template" in manifest:
        agent: object = TemplateAgent(manifest["template"], agent_id=agent_id)
    else:
        module, _, name = manifest["entrypoint"].partition(":")
        agent = getattr(importlib.import_module(module), name)()
    assert isinstance(agent, Agent)
