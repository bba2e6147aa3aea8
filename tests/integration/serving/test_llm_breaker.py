"""The circuit breaker on the real tip path: repeated LLM failures stop the calls, every
tip is the fallback at once, /readyz says so, and a probe after the cooldown closes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ml.serving.llm.port import LLMError
from tests.conftest import FixedClock, MakeSettings
from tests.integration.serving.tip_env import (
    FULL_ANSWER_PROMPT,
    Env,
    open_env,
    single_answer_config,
)


@pytest.fixture
def env(settings_for: MakeSettings, clock: FixedClock, tmp_path: Path) -> Iterator[Env]:
    settings = settings_for(
        llm_breaker_failures=2,
        llm_breaker_cooldown_s=30,
        prompt_file=FULL_ANSWER_PROMPT,
        litellm_config=single_answer_config(tmp_path),
    )
    with open_env(settings, clock) as opened:
        yield opened


def _tip(env: Env, user: str) -> dict[str, object]:
    response = env.client.get(f"/v1/users/{user}/tip", params={"refresh": "true"})
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def _reason(env: Env, tip: dict[str, object]) -> object:
    explained = env.client.get(f"/v1/tips/{tip['tip_id']}/explain").json()
    return explained["provenance"]["fallback_reason"]


def test_repeated_failures_open_the_circuit_until_a_probe_succeeds(env: Env) -> None:
    env.llm.push(LLMError("unreachable", "connection refused"), LLMError("timeout", "slow"))
    assert _reason(env, _tip(env, "alice")) == "llm_unreachable"
    assert _reason(env, _tip(env, "bob")) == "llm_timeout"
    calls = len(env.llm.requests)

    # Open: no call reaches the model, every tip is the fallback, readiness says why.
    env.answer("Send the Q3 invoice now.", ["tasks"])
    tip = _tip(env, "alice")
    assert tip["fallback"] is True and _reason(env, tip) == "llm_circuit_open"
    assert len(env.llm.requests) == calls
    ready = env.client.get("/readyz")
    assert ready.status_code == 200  # degraded, not unready: fallbacks still flow
    assert ready.json()["checks"]["llm"]["circuit"] == "open"

    env.clock.advance(seconds=31)  # the cooldown is over: the next request probes
    tip = _tip(env, "alice")
    assert tip["fallback"] is False and len(env.llm.requests) == calls + 1
    assert env.client.get("/readyz").json()["checks"]["llm"]["circuit"] == "closed"


def test_invalid_answers_do_not_open_the_circuit(env: Env) -> None:
    env.llm.push("not json", "still not json", "{}")
    for user in ("alice", "bob", "alice"):
        assert _reason(env, _tip(env, user)) == "invalid_answer"
    assert env.nudge.orchestrator.breaker is not None
    assert env.nudge.orchestrator.breaker.state == "closed"
