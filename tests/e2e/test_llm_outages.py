"""The LLM hangs, dies and comes back: tips keep coming, within the deadline, no restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from ml.serving.llm.litellm_client import LiteLLMClient
from ml.serving.llm.model_list import load_model_list
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from tests.conftest import MakeSettings, gateway_headers

if TYPE_CHECKING:
    from nudge.runtime import Nudge
    from nudge.settings import Settings
    from tests.llm_fixtures import EmbeddedLLMProcess

pytestmark = pytest.mark.llm

# Long enough for a first, uncached prompt of ~850 tokens on this CPU (5-8 s), short
# enough to wait out twice.
TIMEOUT_S = 15.0
MARGIN_S = 2.0
LLM_DOWN = {"llm_timeout", "llm_unreachable", "llm_error"}


def _tip(client: TestClient) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    # Wait for the model (two deadlines at most): these tests are about what it answers.
    r = client.get("/v1/users/alice/tip", params={"refresh": "true", "wait": "30"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text
    explain = client.get(f"/v1/tips/{r.json()['tip_id']}/explain").json()
    return elapsed, explain


def _written_by_the_model(explain: dict[str, Any]) -> bool:
    """The model answered (its answer may still fail validation: a tiny model)."""
    prov = explain["provenance"]
    return explain["fallback_reason"] not in LLM_DOWN and prov["tokens"]["completion"] > 0


def _seeded(settings: Settings, server: EmbeddedLLMProcess) -> Nudge:
    """A Nudge with the demo data, its agents swept, talking to ``server`` through LiteLLM."""
    models = load_model_list(
        settings.litellm_config, substitutions={"embedded_llm": server.base_url}
    )
    nudge = bootstrap(settings, llm=LiteLLMClient(models))
    seed_demo(nudge, nudge.clock())
    nudge.sweeper.sweep_all()
    return nudge


def test_hang_death_and_return_of_the_llm(
    sqlite_settings: MakeSettings, spawn_embedded_llm: Callable[..., EmbeddedLLMProcess]
) -> None:
    server = spawn_embedded_llm()
    nudge = _seeded(sqlite_settings(llm_timeout_s=TIMEOUT_S, llm_retries=1), server)
    try:
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
            _, explain = _tip(c)
            assert _written_by_the_model(explain)
            assert c.get("/readyz").json()["checks"]["llm"]["ok"] is True

            server.pause()  # a real hang: connections are accepted, nothing answers
            elapsed, explain = _tip(c)
            assert elapsed < TIMEOUT_S + MARGIN_S
            assert explain["fallback"] is True
            assert explain["fallback_reason"] == "llm_timeout"
            ready = c.get("/readyz")
            assert ready.status_code == 200  # degraded, still serving
            assert ready.json()["checks"]["llm"]["ok"] is False

            server.resume()
            _, explain = _tip(c)
            assert _written_by_the_model(explain)

            port = server.port
            server.kill()  # a crash: nothing listens any more
            elapsed, explain = _tip(c)
            assert elapsed < TIMEOUT_S + MARGIN_S
            assert explain["fallback_reason"] == "llm_unreachable"
            assert c.get("/readyz").json()["checks"]["llm"]["ok"] is False

            spawn_embedded_llm(port)  # back on the same address; Nudge is not restarted
            _, explain = _tip(c)
            assert _written_by_the_model(explain)
            assert c.get("/readyz").json()["checks"]["llm"]["ok"] is True
    finally:
        nudge.stop()


def test_the_circuit_opens_on_a_dead_llm_and_a_probe_closes_it(
    sqlite_settings: MakeSettings, spawn_embedded_llm: Callable[..., EmbeddedLLMProcess]
) -> None:
    server = spawn_embedded_llm()
    settings = sqlite_settings(
        llm_timeout_s=TIMEOUT_S, llm_breaker_failures=2, llm_breaker_cooldown_s=2
    )
    nudge = _seeded(settings, server)
    try:
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
            port = server.port
            server.kill()
            for _ in range(2):
                _, explain = _tip(c)
                assert explain["fallback_reason"] == "llm_unreachable"
            elapsed, explain = _tip(c)  # open: no call is made at all
            assert explain["fallback_reason"] == "llm_circuit_open" and elapsed < 1.0
            assert explain["provenance"]["tokens"]["completion"] == 0
            assert c.get("/readyz").json()["checks"]["llm"]["circuit"] == "open"

            spawn_embedded_llm(port)
            time.sleep(2.1)  # the cooldown: the next tip is the probe
            _, explain = _tip(c)
            assert _written_by_the_model(explain)
            assert c.get("/readyz").json()["checks"]["llm"]["circuit"] == "closed"
    finally:
        nudge.stop()


def test_a_returning_llm_closes_the_circuit_without_waiting_for_the_cooldown(
    sqlite_settings: MakeSettings, spawn_embedded_llm: Callable[..., EmbeddedLLMProcess]
) -> None:
    server = spawn_embedded_llm()
    settings = sqlite_settings(
        llm_timeout_s=TIMEOUT_S, llm_breaker_failures=2, llm_breaker_cooldown_s=600
    )
    nudge = _seeded(settings, server)
    try:
        with TestClient(build_app(nudge, start=False), headers=gateway_headers(nudge)) as c:
            port = server.port
            server.kill()
            for _ in range(2):
                _tip(c)
            _, explain = _tip(c)
            assert explain["fallback_reason"] == "llm_circuit_open"

            spawn_embedded_llm(port)  # back, with an empty prompt cache
            back = time.monotonic()
            while c.get("/readyz").json()["checks"]["llm"]["circuit"] != "closed":
                assert time.monotonic() - back < 30, "the circuit stayed open"
                time.sleep(0.2)
            _, explain = _tip(c)
            assert _written_by_the_model(explain)
            assert time.monotonic() - back < 30  # not the 600 s cooldown
    finally:
        nudge.stop()
