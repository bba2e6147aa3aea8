"""The LLM circuit breaker's states on a hand-moved clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ml.serving.tip.breaker import BreakerConfig, CircuitBreaker
from tests.conftest import FixedClock

CONFIG = BreakerConfig(failures=3, window=timedelta(seconds=60), cooldown=timedelta(seconds=30))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))


def test_failures_within_the_window_open_the_circuit(clock: FixedClock) -> None:
    breaker = CircuitBreaker(CONFIG, clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert breaker.state == "closed"
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.status() == {"circuit": "open", "opened_at": clock().isoformat()}


def test_failures_spread_wider_than_the_window_do_not(clock: FixedClock) -> None:
    breaker = CircuitBreaker(CONFIG, clock)
    for _ in range(5):
        breaker.failed()
        clock.advance(seconds=31)  # only two ever lie within 60 s
    assert breaker.state == "closed" and breaker.allow()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.state == "closed"  # a success forgets the earlier failures


def test_after_the_cooldown_one_probe_decides(clock: FixedClock) -> None:
    breaker = CircuitBreaker(CONFIG, clock)
    for _ in range(3):
        breaker.failed()
    clock.advance(seconds=29)
    assert not breaker.allow()
    clock.advance(seconds=1)
    assert breaker.allow() and breaker.state == "half_open"
    assert not breaker.allow()  # one probe at a time
    breaker.failed()  # the probe failed: open for another cooldown
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(seconds=30)
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()
    assert breaker.status() == {"circuit": "closed"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"failures": 0}, "failures"), ({"window": timedelta(0)}, "window"),
     ({"cooldown": timedelta(seconds=-1)}, "cooldown")],
)  # fmt: skip
def test_a_bad_config_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BreakerConfig(**changes)  # type: ignore[arg-type]
