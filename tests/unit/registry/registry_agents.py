"""Agent classes and manifest text for the registry tests; manifests name this module."""

from __future__ import annotations

from typing import Any

import yaml

from ml.agents.base import AgentInput, Snippet

MODULE = __name__


class EchoAgent:
    def compute(self, inp: AgentInput) -> Snippet | None:
        return Snippet(text=f"{len(inp.signals)} signals")


class NoCompute:
    def render(self) -> str:
        return ""


class ExplodingInit:
    def __init__(self) -> None:
        raise RuntimeError("missing configuration")

    def compute(self, inp: AgentInput) -> Snippet | None:
        return None


NOT_A_CLASS = 42


def manifest_text(agent_id: str, **fields: Any) -> str:
    """Return a valid manifest for ``agent_id``; a field given as None is left out."""
    manifest: dict[str, Any] = {
        "id": agent_id,
        "version": 1,
        "name": "Echo",
        "description": "Counts the user's signals.",
        "entrypoint": f"{MODULE}:EchoAgent",
        "schedule": {"every": "15m"},
        "ttl": "1h",
    }
    manifest.update(fields)
    return yaml.safe_dump({k: v for k, v in manifest.items() if v is not None}, sort_keys=False)
