"""One call to the model behind the circuit breaker, its failure named as a fallback reason."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ml.serving.llm.port import LLMClient, LLMError, LLMRequest, LLMResponse
from ml.serving.tip.breaker import CircuitBreaker

LLM_DOWN = frozenset({"llm_timeout", "llm_unreachable", "llm_error"})
"""What the circuit breaker counts as a failure; an invalid answer came from a model that
is up."""

Outcome = tuple[LLMResponse | None, str | None, str | None]
"""The response, or None with a fallback reason and an error message."""


class GuardedCall:
    def __init__(
        self,
        llm: LLMClient,
        breaker: CircuitBreaker | None,
        timeout_s: float,
        *,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        """``on_open`` is called (on the event loop) when a failure opens the circuit."""
        self._llm = llm
        self._breaker = breaker
        self._timeout_s = timeout_s
        self._on_open = on_open

    async def __call__(self, request: LLMRequest) -> Outcome:
        breaker = self._breaker
        if breaker is not None and not breaker.allow():
            return None, "llm_circuit_open", "the LLM failed repeatedly; waiting for a probe"
        reason: str | None = "llm_error"  # if the call raises something unforeseen
        try:
            response, reason, error = await self._call(request)
        finally:
            if breaker is not None and reason in LLM_DOWN:
                breaker.failed()
                if breaker.state == "open" and self._on_open is not None:
                    self._on_open()
            elif breaker is not None:
                breaker.succeeded()
        return response, reason, error

    async def _call(self, request: LLMRequest) -> Outcome:
        try:
            # The adapter enforces its own deadline; this one bounds the request regardless.
            response = await asyncio.wait_for(self._llm.complete(request), self._timeout_s + 2)
        except TimeoutError:
            return None, "llm_timeout", "no answer within the deadline"
        except LLMError as exc:
            kind = {
                "timeout": "llm_timeout",
                "unreachable": "llm_unreachable",
                "bad_response": "invalid_answer",  # the model answered, but not usable JSON
            }.get(exc.kind, "llm_error")
            return None, kind, str(exc)[:300]
        return response, None, None
