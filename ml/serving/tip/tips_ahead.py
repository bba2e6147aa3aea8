"""Write a recently active user's next tip before they ask for it: when a sweep, a signal
refresh or a worker rewrites their agents' outputs, the new tip is started in the
background of the process that serves polls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from ml.serving.tip.orchestrator import Orchestrator
from ml.serving.tip.tip_store import TipStore
from nudge_infra.clock import Clock

log = logging.getLogger(__name__)

ACTIVE_WITHIN = timedelta(hours=24)
"""A user served a tip within this long gets the next one written ahead; others get theirs
when they next ask."""


class TipsAhead:
    def __init__(
        self,
        orchestrator: Orchestrator,
        tips: TipStore,
        clock: Clock,
        *,
        backlog: int,
        active_within: timedelta = ACTIVE_WITHIN,
    ) -> None:
        """``backlog``: with this many generations already running or queued, outputs
        rewritten now start none (the users' polls will); polls are never queued behind a
        sweep's worth of tips."""
        self._orchestrator = orchestrator
        self._tips = tips
        self._clock = clock
        self._backlog = backlog
        self._active_within = active_within
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Write tips on ``loop`` (the app's, where polls find them); None stops."""
        self._loop = loop

    def on_outputs(self, user_ids: Sequence[str]) -> None:
        """The outputs of ``user_ids`` were rewritten (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed() or not user_ids:
            return
        since = self._clock() - self._active_within
        active = self._tips.served_since(user_ids, since)
        if active:
            prepare = self._prepare(active)
            try:
                asyncio.run_coroutine_threadsafe(prepare, loop)
            except RuntimeError:  # the loop closed meanwhile (shutdown): their polls will
                prepare.close()

    async def _prepare(self, user_ids: list[str]) -> int:
        """Start the tips of ``user_ids`` whose inputs changed, within the backlog."""
        started = 0
        for user_id in user_ids:
            if self._orchestrator.generating >= self._backlog:
                log.info("tips ahead: %d users left to their next poll", len(user_ids) - started)
                break
            try:
                started += await self._orchestrator.prepare(
                    user_id, active_within=self._active_within
                )
            except Exception:  # one user's failure never stops the others
                log.exception("could not start the next tip of a user")
        return started
