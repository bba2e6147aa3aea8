"""The `env` fixture: a seeded Nudge on the test database, its app, and a scripted LLM.

Registered for every test in tests/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge.settings import Settings
from tests.conftest import FixedClock, MakeSettings, gateway_headers


@dataclass
class Env:
    nudge: Nudge
    client: TestClient
    llm: FakeLLM
    clock: FixedClock

    def answer(self, tip: str, agents: list[str], rationale: str = "It is due today.") -> None:
        self.llm.push(json.dumps({"tip": tip, "agents": agents, "rationale": rationale}))

    def prompt_of(self, index: int = -1) -> str:
        return "\n".join(m.content for m in self.llm.requests[index].messages)


@contextmanager
def open_env(
    settings: Settings,
    clock: FixedClock,
    headers: Callable[[Nudge], dict[str, str]] = gateway_headers,
) -> Iterator[Env]:
    """Seed the demo, sweep, and serve the app with the credential ``headers`` gives."""
    llm = FakeLLM()
    nudge = bootstrap(settings, clock=clock, llm=llm)
    seed_demo(nudge, clock())
    nudge.sweeper.sweep_all()
    with TestClient(build_app(nudge, start=False), headers=headers(nudge)) as client:
        yield Env(nudge, client, llm, clock)
    nudge.stop()


@pytest.fixture
def env(settings_for: MakeSettings, clock: FixedClock) -> Iterator[Env]:
    with open_env(settings_for(), clock) as opened:
        yield opened
