from pathlib import Path

import pytest
import registry_agents
from registry_agents import manifest_text

from ml.registry.loader import load_registry
from ml.registry.registry import Registry


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    manifests = {
        "calendar": manifest_text(
            "calendar", priority=50, consents=["calendar.read"], reads=["calendar_event"]
        ),
        "tasks": manifest_text(
            "tasks", priority=80, consents=["tasks.read"], reads=["task", "calendar_event"]
        ),
        "focus": manifest_text(
            "focus", priority=50, consents=["calendar.read", "tasks.read"], reads=["task"]
        ),
        "sleep": manifest_text("sleep", priority=99, enabled=False, consents=["health.read"]),
    }
    for agent_id, text in manifests.items():
        (tmp_path / f"{agent_id}.yaml").write_text(text)
    loaded = load_registry(tmp_path, allowed_packages=(registry_agents.MODULE,))
    assert loaded.errors == ()
    return loaded


def test_agents_are_keyed_and_ordered_by_id(registry: Registry) -> None:
    assert list(registry.agents) == ["calendar", "focus", "sleep", "tasks"]


def test_get(registry: Registry) -> None:
    agent = registry.get("tasks")
    assert agent is not None and agent.priority == 80
    assert registry.get("nope") is None


def test_enabled_sorts_by_priority_then_id(registry: Registry) -> None:
    assert [agent.id for agent in registry.enabled()] == ["tasks", "calendar", "focus"]


def test_agents_requiring_a_consent_include_disabled_ones(registry: Registry) -> None:
    assert registry.agents_requiring("calendar.read") == ["calendar", "focus"]
    assert registry.agents_requiring("health.read") == ["sleep"]
    assert registry.agents_requiring("mail.read") == []


def test_readers_of_a_signal_kind(registry: Registry) -> None:
    assert registry.readers_of("calendar_event") == ["calendar", "tasks"]
    assert registry.readers_of("task") == ["focus", "tasks"]


def test_agents_cannot_be_changed(registry: Registry) -> None:
    with pytest.raises(TypeError):
        registry.agents["x"] = registry.agents["tasks"]  # type: ignore[index]
