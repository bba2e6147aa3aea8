"""Run one agent on hand-written payloads, the way a sweep would, for agent unit tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ml.agents.base import Agent, AgentInput, Signal, Snippet, UserView

RECEIVED = datetime(2026, 5, 1, tzinfo=UTC)


def run_agent(
    agent: Agent,
    kind: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    tz: ZoneInfo,
    params: Mapping[str, Any],
    prefs: Mapping[str, Any] | None = None,
) -> Snippet | None:
    """Give ``agent`` one signal of ``kind`` per payload (ids ``<kind>-0``, ``<kind>-1``…)."""
    signals = [Signal(kind, f"{kind}-{i}", p, RECEIVED) for i, p in enumerate(payloads)]
    return agent.compute(AgentInput(UserView("u1", tz, prefs or {}), now, signals, params))
