"""Signal-triggered refresh: new signals reach the next tip in seconds, not at the next sweep.

When a user's signals are ingested, the agents that read those kinds are re-run for that
user alone, at most once per user and agent per ``debounce`` (a burst of signals costs one
run). Where the run happens is the caller's choice: in this process (embedded) or as a
job for the workers (distributed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta

from ml.registry.registry import Registry
from nudge_infra.clock import Clock

log = logging.getLogger(__name__)

Submit = Callable[[str, list[str]], None]
"""``submit(agent_id, user_ids)``: run (or enqueue) the agent for these users."""


class RefreshTrigger:
    def __init__(
        self,
        registry: Callable[[], Registry],
        clock: Clock,
        submit: Submit,
        *,
        debounce: timedelta = timedelta(seconds=30),
        memory: int = 100_000,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._submit = submit
        self._debounce = debounce
        self._memory = memory
        self._last: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def on_signals(self, user_id: str, kinds: Iterable[str]) -> list[str]:
        """Submit a refresh of every agent reading one of ``kinds``; return those submitted."""
        wanted = set(kinds)
        now = self._clock().timestamp()
        due = []
        with self._lock:
            for agent in self._registry().enabled():
                if not wanted & set(agent.manifest.reads):
                    continue
                key = (user_id, agent.id)
                if now - self._last.get(key, float("-inf")) < self._debounce.total_seconds():
                    continue
                self._last[key] = now
                due.append(agent.id)
            if len(self._last) > self._memory:  # forget the oldest half
                for old in sorted(self._last, key=self._last.__getitem__)[: self._memory // 2]:
                    del self._last[old]
        for agent_id in due:
            try:
                self._submit(agent_id, [user_id])
            except Exception:
                log.exception("refresh of %s for a user could not be submitted", agent_id)
        return due


class LocalRefresh:
    """Run refreshes in this process, one at a time, off the request path (embedded mode)."""

    def __init__(self, run: Callable[[str, list[str]], object]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._run = run
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh")
        self.then: Callable[[list[str]], object] | None = None
        """Called with the users after their agents ran: the serving side writes their
        next tips ahead of the poll."""

    def submit(self, agent_id: str, user_ids: list[str]) -> None:
        self._pool.submit(self._guarded, agent_id, user_ids)

    def _guarded(self, agent_id: str, user_ids: list[str]) -> None:
        try:
            self._run(agent_id, user_ids)
            if self.then is not None:
                self.then(user_ids)
        except Exception:
            log.exception("refresh of %s failed", agent_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
