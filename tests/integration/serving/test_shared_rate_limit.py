"""The tip rate limit counts across API processes through Redis, and falls back to each
process's own count, without an error, while Redis cannot be reached."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ml.serving.http.auth import Caller
from ml.serving.http.ratelimit import TipRateLimit
from ml.serving.llm.fake import FakeLLM
from nudge.bootstrap import bootstrap, build_app
from nudge.demo.seed import seed_demo
from nudge.runtime import Nudge
from nudge_infra.errors import TooManyRequests
from tests.conftest import FixedClock, MakeSettings, gateway_headers

GATEWAY = Caller("gateway", "gateway")


def test_two_limiters_on_one_redis_share_the_window(redis_url: str) -> None:
    first, second = (TipRateLimit("3/minute", shared=redis_url) for _ in range(2))
    user = f"u-{uuid.uuid4().hex[:8]}"  # a window of its own in the shared store
    first.check(GATEWAY, user)
    second.check(GATEWAY, user)
    first.check(GATEWAY, user)
    for limiter in (first, second):
        with pytest.raises(TooManyRequests, match="more than 3 tip requests per 60 s"):
            limiter.check(GATEWAY, user)
    second.check(Caller("user", user), user)  # another caller: another window


def test_an_unreachable_redis_counts_in_the_process_and_never_leaks_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = TipRateLimit("2/minute", shared="redis://:hunter2@127.0.0.1:9/0")
    with caplog.at_level(logging.WARNING):
        limiter.check(GATEWAY, "alice")
        limiter.check(GATEWAY, "alice")
        with pytest.raises(TooManyRequests):
            limiter.check(GATEWAY, "alice")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert "hunter2" not in caplog.text


@pytest.fixture
def two_processes(
    settings_for: MakeSettings, clock: FixedClock, redis_url: str
) -> Iterator[tuple[Nudge, Nudge]]:
    settings = settings_for(tip_rate_limit="4/minute", redis_url=redis_url)
    nudges = [bootstrap(settings, clock=clock, llm=FakeLLM()) for _ in range(2)]
    seed_demo(nudges[0], clock())
    yield nudges[0], nudges[1]
    for n in nudges:
        n.stop()


def test_two_api_processes_share_one_budget_per_user(two_processes: tuple[Nudge, Nudge]) -> None:
    a, b = two_processes
    with (
        TestClient(build_app(a, start=False), headers=gateway_headers(a)) as ca,
        TestClient(build_app(b, start=False), headers=gateway_headers(b)) as cb,
    ):
        user = f"u-{uuid.uuid4().hex[:8]}"
        ca.put(f"/v1/users/{user}", json={"timezone": "UTC"}).raise_for_status()
        statuses = [c.get(f"/v1/users/{user}/tip").status_code for c in (ca, cb, ca, cb, ca, cb)]
        assert statuses == [200, 200, 200, 200, 429, 429]
        refused = cb.get(f"/v1/users/{user}/tip")
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
