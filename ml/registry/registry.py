"""The immutable snapshot of loaded agents that the rest of Nudge reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from ml.agents.base import Agent
from ml.registry.load_errors import LoadError
from ml.registry.manifest import Manifest


@dataclass(frozen=True, slots=True)
class RegisteredAgent:
    """A validated manifest with the implementation built from it."""

    manifest: Manifest
    source: Path
    impl: Agent

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def priority(self) -> int:
        return self.manifest.priority

    @property
    def enabled(self) -> bool:
        return self.manifest.enabled

    @property
    def consents(self) -> tuple[str, ...]:
        return self.manifest.consents

    @property
    def silenced_in(self) -> tuple[str, ...]:
        return self.manifest.silenced_in

    @property
    def ttl(self) -> timedelta:
        return self.manifest.ttl


@dataclass(frozen=True, eq=False)
class Registry:
    """Agents and load errors side by side, as of one read of the manifest directory."""

    agents: Mapping[str, RegisteredAgent]
    errors: tuple[LoadError, ...]
    loaded_at: datetime
    fingerprint: str
    """Hash of every manifest file's name and content: equal fingerprints, equal registries."""

    def __post_init__(self) -> None:
        # Sorted by id and read-only, so every reader sees the same agents in the same order.
        ordered = dict(sorted(self.agents.items()))
        object.__setattr__(self, "agents", MappingProxyType(ordered))

    def get(self, agent_id: str) -> RegisteredAgent | None:
        return self.agents.get(agent_id)

    def enabled(self) -> list[RegisteredAgent]:
        """Return the enabled agents, highest priority first, then by id."""
        active = [agent for agent in self.agents.values() if agent.enabled]
        return sorted(active, key=lambda agent: (-agent.priority, agent.id))

    def agents_requiring(self, consent_key: str) -> list[str]:
        """Return the ids of the agents, enabled or not, that need ``consent_key``."""
        return [agent.id for agent in self.agents.values() if consent_key in agent.consents]

    def inferred_under(self, consent_key: str) -> list[str]:
        """Return the inferrers that agents needing ``consent_key`` ask for, sorted."""
        return sorted(
            {
                spec.infer
                for agent_id in self.agents_requiring(consent_key)
                for spec in self.agents[agent_id].manifest.params.values()
                if spec.infer
            }
        )

    def readers_of(self, signal_kind: str) -> list[str]:
        """Return the ids of the agents, enabled or not, that read ``signal_kind`` signals."""
        return [agent.id for agent in self.agents.values() if signal_kind in agent.manifest.reads]
