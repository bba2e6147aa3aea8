"""The hot path: eligibility → prompt → LLM → provenance, for one user's tip."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import anyio

from ml.registry.registry import Registry
from ml.serving.llm.port import LLMClient, LLMError, LLMRequest, LLMResponse, Message
from ml.serving.tip.answer import InvalidAnswer
from ml.serving.tip.bandits import BayesUcbPolicy
from ml.serving.tip.breaker import CircuitBreaker
from ml.serving.tip.fallback import FallbackSource, fallback_tip
from ml.serving.tip.llm_request import GenerationConfig, read_answer, resolved_model, tip_request
from ml.serving.tip.plan import Plan, make_plan
from ml.serving.tip.policy import Policy
from ml.serving.tip.prompt import Arm, PromptTemplate
from ml.serving.tip.provenance import Generation, provenance_record
from ml.serving.tip.tip_items import tip_items
from ml.serving.tip.tip_store import (
    StoredTip,
    TipHead,
    TipStore,
)
from nudge_infra.clock import Clock

log = logging.getLogger(__name__)

# A tip that fell back because the LLM failed is reused only for a while: after
# ``GenerationConfig.retry_failed_after`` the next request asks the model again.
_RETRYABLE = frozenset(
    {"llm_timeout", "llm_unreachable", "llm_error", "invalid_answer", "llm_circuit_open"}
)
_LLM_DOWN = frozenset({"llm_timeout", "llm_unreachable", "llm_error"})
"""What the circuit breaker counts as a failure; an invalid answer came from a model that
is up."""


@dataclass(frozen=True, slots=True)
class ServedTip:
    tip: TipHead
    cached: bool
    generation: Generation | None = None
    """How the text came about; None when a stored tip was served again."""


class Orchestrator:
    def __init__(
        self,
        *,
        tips: TipStore,
        registry: Callable[[], Registry],
        llm: LLMClient,
        prompt: Callable[[], PromptTemplate],
        clock: Clock,
        config: GenerationConfig,
        arm: Callable[[str], Arm] | None = None,
        policy: Policy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """``arm`` picks a user's prompt and model (A/B experiments); by default every user
        gets ``prompt()`` and the configured alias. ``policy`` chooses the snippets that go
        into the prompt (Bayes-UCB by default); ``breaker``, when given, stops calling the
        model after repeated failures until a probe succeeds."""
        self._tips = tips
        self._registry = registry
        self._llm = llm
        self._prompt = prompt
        self._clock = clock
        self._config = config
        self._arm = arm or (lambda _user: Arm(self._prompt(), self._config.alias))
        self._policy: Policy = policy or BayesUcbPolicy()
        self._breaker = breaker
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def alias(self) -> str:
        return self._config.alias

    @property
    def config(self) -> GenerationConfig:
        return self._config

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def breaker(self) -> CircuitBreaker | None:
        return self._breaker

    async def warm_up(self, *, slots: int = 2) -> bool:
        """Have the model read the fixed system prompt once per server slot, at start.

        llama.cpp keeps each slot's prompt prefix, so the first tips do not pay for it. One
        request per slot, at once: a single warm-up may land in a slot the next tip skips.
        """
        request = LLMRequest(
            alias=self._config.alias,
            messages=(Message("system", self._prompt().system), Message("user", "Ready?")),
            json_schema=None,
            max_tokens=1,
            temperature=0,
            timeout_s=self._config.timeout_s,
            retries=0,
        )
        results = await asyncio.gather(
            *(self._llm.complete(request) for _ in range(slots)), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning("LLM warm-up failed (%s); the first tip will be slower", failed[0])
        return not failed

    async def tip_for(self, user_id: str, *, refresh: bool = False) -> ServedTip:
        """Serve this user's tip; concurrent requests for one user share one generation."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            return await self._tip_for(user_id, refresh=refresh)

    async def _tip_for(self, user_id: str, *, refresh: bool) -> ServedTip:
        started = time.perf_counter()
        now = self._clock()
        plan = await anyio.to_thread.run_sync(self.plan, user_id, now)
        registry = plan.registry
        last = plan.last_tip
        if (
            not refresh
            and last is not None
            and last.fingerprint == plan.fingerprint
            and not plan.feedback_since_last
            and (
                last.fallback_reason not in _RETRYABLE
                or now - last.created_at < self._config.retry_failed_after
            )
        ):
            count = await anyio.to_thread.run_sync(self._tips.mark_served_again, last.tip_id, now)
            return ServedTip(replace(last, serve_count=count, last_served_at=now), cached=True)
        assembly_ms = (time.perf_counter() - started) * 1000
        generation = await self._write(plan, registry)
        tip, row = self._record(
            plan,
            registry,
            generation,
            assembly_ms=assembly_ms,
            total_ms=(time.perf_counter() - started) * 1000,
        )
        await anyio.to_thread.run_sync(self._tips.save, tip, row)
        return ServedTip(tip, cached=False, generation=generation)

    async def _write(self, plan: Plan, registry: Registry) -> Generation:
        """Ask the LLM and validate its answer; fall back deterministically when either fails."""
        ranked = [
            FallbackSource(
                o.agent_id, registry.agents[o.agent_id].manifest.name, o.snippet, o.suggestion
            )
            for o in plan.chosen
        ]
        if not plan.chosen:
            answer = fallback_tip(ranked, "no_eligible_agents")
            return Generation(answer, "no_eligible_agents", None, None, 0.0)
        started = time.perf_counter()
        request = tip_request(
            plan.prompt,
            [o.agent_id for o in plan.chosen],
            alias=plan.arm.alias,
            config=self._config,
            item_refs=[i.ref for o in plan.chosen for i in o.items],
        )
        response, reason, error = await self._generate(request)
        llm_ms = (time.perf_counter() - started) * 1000
        if response is not None:
            try:
                answer = read_answer(
                    response.content, {o.agent_id: o.snippet for o in plan.chosen}, plan.prompt
                )
                return Generation(answer, None, None, response, llm_ms)
            except InvalidAnswer as exc:
                reason, error = "invalid_answer", str(exc)
        answer = fallback_tip(ranked, reason or "no answer")
        return Generation(answer, reason, error, response, llm_ms)

    def plan(self, user_id: str, now: datetime | None = None) -> Plan:
        """Read and decide everything a tip needs before the LLM is called (no LLM call)."""
        now = self._clock() if now is None else now
        registry, arm = self._registry(), self._arm(user_id)
        model = resolved_model(self._llm, arm.alias)
        return make_plan(self._tips.engine, registry, user_id, arm, now, model, self._policy)

    async def _generate(
        self, request: LLMRequest
    ) -> tuple[LLMResponse | None, str | None, str | None]:
        breaker = self._breaker
        if breaker is not None and not breaker.allow():
            return None, "llm_circuit_open", "the LLM failed repeatedly; waiting for a probe"
        reason: str | None = "llm_error"  # if the call raises something unforeseen
        try:
            response, reason, error = await self._call(request)
        finally:
            if breaker is not None and reason in _LLM_DOWN:
                breaker.failed()
            elif breaker is not None:
                breaker.succeeded()
        return response, reason, error

    async def _call(self, request: LLMRequest) -> tuple[LLMResponse | None, str | None, str | None]:
        cfg = self._config
        try:
            # The adapter enforces its own deadline; this one bounds the request regardless.
            response = await asyncio.wait_for(self._llm.complete(request), cfg.timeout_s + 2)
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

    def _record(
        self,
        plan: Plan,
        registry: Registry,
        generation: Generation,
        *,
        assembly_ms: float,
        total_ms: float,
    ) -> tuple[StoredTip, dict[str, Any]]:
        """Build the tip and the row that stores it with its provenance."""
        response, reason, arm = generation.response, generation.fallback_reason, plan.arm
        resolved = response.resolved_model if response else resolved_model(self._llm, arm.alias)
        answer = generation.answer
        items = tip_items(answer.tip, answer.agents, plan.chosen, answer.items_named)
        provenance = provenance_record(
            plan,
            generation,
            items,
            resolved_model=resolved,
            registry_fingerprint=registry.fingerprint,
            assembly_ms=assembly_ms,
            total_ms=total_ms,
        )
        tip = StoredTip(
            tip_id=str(uuid.uuid4()),
            user_id=plan.profile.user_id,
            text=generation.answer.tip,
            rationale=generation.answer.rationale,
            agents=list(answer.agents),
            items=[i.to_dict() for i in items],
            fallback=reason is not None,
            fallback_reason=reason,
            fingerprint=plan.fingerprint,
            created_at=plan.now,
            serve_count=1,
            last_served_at=plan.now,
            provenance=provenance,
        )
        row = asdict(tip) | {
            "prompt_name": arm.prompt.name,
            "prompt_version": arm.prompt.version,
            "model_alias": arm.alias,
            "resolved_model": resolved,
            "assembly_ms": assembly_ms,
            "llm_ms": generation.llm_ms,
            "total_ms": total_ms,
            "prompt_tokens": response.prompt_tokens if response else 0,
            "completion_tokens": response.completion_tokens if response else 0,
            "experiment": arm.experiment,
            "variant": arm.variant,
        }
        return tip, row
