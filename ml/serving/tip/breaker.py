"""A circuit breaker in front of the LLM: after repeated failures, stop asking for a while.

closed     every request goes to the model; a failure (timeout, unreachable, an error) is
           remembered for ``window``; ``failures`` of them within it open the circuit.
open       no request goes to the model: the tip path serves its fallback at once. After
           ``cooldown`` the next request is let through as a probe (half-open).
half-open  one probe at a time; every other request still gets the fallback. The probe's
           success closes the circuit, its failure opens it for another ``cooldown``.

A model that answers with something unusable (an invalid answer) is up: that is the
validator's business, not the breaker's. State is per process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failures: int = 5
    window: timedelta = timedelta(seconds=60)
    cooldown: timedelta = timedelta(seconds=30)

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ValueError(f"breaker failures must be at least 1, got {self.failures}")
        for name in ("window", "cooldown"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"breaker {name} must be positive")


class CircuitBreaker:
    def __init__(self, config: BreakerConfig, clock: Callable[[], datetime]) -> None:
        self.config = config
        self._clock = clock
        self._failures: deque[datetime] = deque()
        self._state: State = "closed"
        self._opened_at: datetime | None = None
        self._probing = False

    @property
    def state(self) -> State:
        return self._state

    def allow(self) -> bool:
        """May this request call the model? Claims the probe when one is due."""
        if self._state == "closed":
            return True
        if self._probing:
            return False
        assert self._opened_at is not None
        if self._clock() - self._opened_at < self.config.cooldown:
            return False
        self._state, self._probing = "half_open", True
        return True

    def succeeded(self) -> None:
        self._state, self._opened_at, self._probing = "closed", None, False
        self._failures.clear()

    def failed(self) -> None:
        now = self._clock()
        if self._state == "half_open":
            self._open(now)
            return
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self.config.window:
            self._failures.popleft()
        if len(self._failures) >= self.config.failures:
            self._open(now)

    def _open(self, now: datetime) -> None:
        self._state, self._opened_at, self._probing = "open", now, False
        self._failures.clear()

    def status(self) -> dict[str, Any]:
        """What ``/readyz`` shows."""
        found: dict[str, Any] = {"circuit": self._state}
        if self._opened_at is not None:
            found["opened_at"] = self._opened_at.isoformat()
        return found
