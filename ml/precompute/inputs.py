"""An agent run's input: the user's view, the signals it reads, its resolved params."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from sqlalchemy import Connection, Engine, delete, insert
from ml.agents.base import AgentInput, Signal, Snippet, UserView
from ml.precompute.guard import BatchResult, run_batch
from ml.registry.registry import RegisteredAgent, Registry
from nudge_infra.clock import Clock
from nudge_infra.errors import NotFound
from nudge_infra.events import outbox as events
from nudge_infra.storage.tables import agent_outputs, sweep_runs
from nudge_infra.storage.upsert import upsert
from nudge_profile.signals import read_signals
from nudge_profile.sweep_users import (
    SweepUser,
    active_user_pages,
    count_active_users,
    read_sweep_users,
)



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
