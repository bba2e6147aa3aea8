"""An agent run's input: the user's view, the signals it reads, its resolved params."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ml.agents.base import AgentInput, Signal, UserView
from ml.registry.registry import RegisteredAgent


def agent_input(
    agent: RegisteredAgent, user: UserView, now: datetime, signals: Sequence[Signal]
) -> AgentInput:
    """One agent run's input: the user's preferences ``<agent id>.<param>`` override the
    manifest's param defaults. ``signals`` are the kinds it reads, newest first."""
    prefix = agent.id + "."
    overrides = {k[len(prefix) :]: v for k, v in user.preferences.items() if k.startswith(prefix)}
    return AgentInput(
        user=user, now=now, signals=signals, params=agent.manifest.resolved_params(overrides)
    )
