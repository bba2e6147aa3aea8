"""Notice the model's return while the circuit is open, instead of waiting for a probe.

While open, the model's server is asked for its health every ``every_s`` (a cheap GET,
not a completion). Once it answers, the model is warmed (it reads the prompt's fixed start,
which a restarted server has forgotten) and, if that completion succeeds, the circuit
closes: the next tip is the model's again. A restarted server otherwise failed the
breaker's probe by timing out on its first, uncached prompt, and opened the circuit for
another cooldown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ml.serving.llm.port import LLMClient
from ml.serving.tip.breaker import CircuitBreaker

log = logging.getLogger(__name__)


class RecoveryWatch:
    def __init__(
        self,
        llm: LLMClient,
        breaker: CircuitBreaker,
        *,
        alias: Callable[[], str],
        warm: Callable[[], Awaitable[bool]],
        every_s: float = 1.0,
    ) -> None:
        self._llm = llm
        self._breaker = breaker
        self._alias = alias
        self._warm = warm
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Watch from now until the circuit closes (once per opening; on the running loop)."""
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="llm-recovery")

    def _open(self) -> bool:
        return self._breaker.state != "closed"

    async def _watch(self) -> None:
        while self._open():
            await asyncio.sleep(self._every_s)
            if not self._open():  # a probe closed it meanwhile
                return
            try:
                if not await self._llm.health(self._alias()):
                    continue
                if await self._warm():
                    log.info("the LLM answers again: circuit closed")
                    self._breaker.succeeded()
                    return
            except Exception:  # the watch must outlive whatever the model does
                log.exception("checking whether the LLM is back failed")
