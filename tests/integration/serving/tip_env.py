"""The `env` fixture: a seeded Nudge on the test database, its app, and a scripted LLM.

Registered for every test in tests/conftest.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from ml.serving.llm.fake import FakeLLM
from ml.serving.tip.prompt import DEFAULT_PROMPT
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge.settings import Settings
from tests.conftest import FixedClock, MakeSettings, gateway_headers

PREVIOUS_PROMPTS = DEFAULT_PROMPT.parent / "previous"


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

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until no tip is being written in the background."""
        deadline = time.monotonic() + timeout
        while self.nudge.orchestrator.generating:
            assert time.monotonic() < deadline, "a tip generation did not finish"
            time.sleep(0.01)

    def fresh_tip(self, user: str = "alice") -> dict[str, Any]:
        """The user's tip once the one being written is stored: a stale answer is followed
        by the next poll, as a gateway would."""
        body: dict[str, Any] = self.client.get(f"/v1/users/{user}/tip").json()
        if body.get("stale"):
            self.settle()
            body = self.client.get(f"/v1/users/{user}/tip").json()
        return body


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


# The env's scripted answers are full answers (tip, agents, rationale): its tests are about
# the model's citations, so they serve version 1, the prompt that asks for those. The
# shipped prompt, which asks for the tip alone, has its own (test_tip_shape.py).
FULL_ANSWER_PROMPT = PREVIOUS_PROMPTS / "tip-orchestrator-v1.yaml"


def single_answer_config(folder: Path) -> Path:
    """The aliases file without best-of-n: a scripted LLM answers each request once, in the
    order the test queued them (best-of-n has tests of its own)."""
    models = yaml.safe_load(Path("config/litellm.yaml").read_text(encoding="utf-8"))
    for entry in models["model_list"]:
        entry.get("model_info", {}).pop("candidates", None)
    path = folder / "litellm-single.yaml"
    path.write_text(yaml.safe_dump(models), encoding="utf-8")
    return path


@pytest.fixture
def env(settings_for: MakeSettings, clock: FixedClock, tmp_path: Path) -> Iterator[Env]:
    settings = settings_for(
        prompt_file=FULL_ANSWER_PROMPT, litellm_config=single_answer_config(tmp_path)
    )
    with open_env(settings, clock) as opened:
        yield opened
