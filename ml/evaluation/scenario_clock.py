"""A clock the harness moves to each scenario's time."""

from __future__ import annotations

from datetime import UTC, datetime


class SettableClock:
    """A ``nudge_infra.clock.Clock`` that stands still until ``set`` moves it.

    Pass one to ``bootstrap(settings, clock=...)``: stores, sweeps and the orchestrator
    then all see the scenario's time, not the machine's.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime.now(UTC)
        self._check(self._now)

    def __call__(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._check(now)
        self._now = now

    @staticmethod
    def _check(now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("SettableClock needs an aware datetime, e.g. 2026-03-10T08:40+01:00")
