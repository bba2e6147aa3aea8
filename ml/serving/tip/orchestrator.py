"""The hot path: eligibility → prompt → LLM → provenance, for one user's tip."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

import anyio

from ml.registry.registry import Registry
from ml.serving.llm.port import LLMClient
from ml.serving.tip.bandits import BayesUcbPolicy
from ml.serving.tip.breaker import CircuitBreaker
from ml.serving.tip.fallback import fallback_tip
from ml.serving.tip.generations import Generations
from ml.serving.tip.guarded_call import GuardedCall
from ml.serving.tip.lease_wait import Made, under_lease, written_elsewhere
from ml.serving.tip.llm_request import GenerationConfig, resolved_model
from ml.serving.tip.plan import Plan, make_plan
from ml.serving.tip.policy import Policy
from ml.serving.tip.prompt import Arm, PromptTemplate
from ml.serving.tip.provenance import Generation
from ml.serving.tip.recovery import RecoveryWatch
from ml.serving.tip.repeat_guard import RepeatGuards
from ml.serving.tip.tip_lease import TipLeases
from ml.serving.tip.tip_record import tip_record
from ml.serving.tip.tip_store import StoredTip, TipHead, TipStore
from ml.serving.tip.tip_writer import PENDING, TipWriter, ranked_sources
from ml.serving.tip.warm_up import warm_up
from nudge_infra.clock import Clock

log = logging.getLogger(__name__)

# A tip that fell back because the LLM failed is reused only for a while: after
# ``GenerationConfig.retry_failed_after`` the next request asks the model again.
_RETRYABLE = frozenset(
    {"llm_timeout", "llm_unreachable", "llm_error", "invalid_answer", "llm_circuit_open"}
)


@dataclass(frozen=True, slots=True)
class ServedTip:
    tip: TipHead
    cached: bool
    generation: Generation | None = None
    """How the text came about; None when a stored tip was served again."""
    stale: bool = False
    """The user's inputs changed since this tip was made: a new one is being written."""


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
        wait_s: float = 3.0,
        concurrent_generations: int = 2,
        leases: TipLeases | None = None,
        repeats: RepeatGuards | None = None,
        read_inline: bool = False,
    ) -> None:
        """``arm`` picks a user's prompt and model (A/B experiments); by default every user
        gets ``prompt()`` and the configured alias. ``policy`` chooses the snippets that go
        into the prompt (Bayes-UCB by default); ``breaker``, when given, stops calling the
        model after repeated failures until a probe succeeds. A poll waits at most
        ``wait_s`` for a tip being written when it has none to show (stale-while-revalidate);
        at most ``concurrent_generations`` tips are written at once. With ``leases``, API
        processes sharing the database write a tip for one user and inputs once. With
        ``repeats``, an answer that nearly repeats a recent tip of the user is refused. With
        ``read_inline`` plans are read on the event loop rather than in a thread: for a
        database in a local file, whose read is a fraction of a millisecond of Python that
        holds the GIL either way, the hops to a thread and back cost a poll more under load
        than the read itself."""
        self._tips = tips
        self._registry = registry
        self._llm = llm
        self._prompt = prompt
        self._clock = clock
        self._config = config
        self._arm = arm or (lambda _user: Arm(self._prompt(), self._config.alias))
        self._policy: Policy = policy or BayesUcbPolicy()
        self._breaker = breaker
        recovery = (
            None
            if breaker is None
            else RecoveryWatch(
                llm, breaker, alias=lambda: config.alias, warm=lambda: self.warm_up(slots=1)
            )
        )
        call = GuardedCall(
            llm, breaker, config.timeout_s, on_open=None if recovery is None else recovery.start
        )
        self._writer = TipWriter(call, config, repeats=repeats, recent=tips.recent)
        self._leases = leases
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._wait_s = wait_s
        self._generations: Generations[Made] = Generations(concurrent_generations)
        # Plans are read in at most this many threads: more only fight the event loop for
        # the GIL, and /healthz with them (the extra polls wait here, off the loop).
        self._readers = anyio.CapacityLimiter(2)
        self._read_inline = read_inline

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
        """Have the model read the prompt's fixed start once per server slot, at start."""
        return await warm_up(self._llm, self._prompt(), self._config, slots=slots)

    @property
    def generating(self) -> int:
        """Tips being written in this process right now."""
        return self._generations.active

    async def tip_for(
        self,
        user_id: str,
        *,
        refresh: bool = False,
        wait: float | None = None,
        stale_ok: bool = True,
    ) -> ServedTip:
        """Serve this user's tip without making the caller wait for the model.

        An unchanged tip is served again. When the inputs changed, the last tip is served at
        once, marked stale, while the new one is written in the background (one generation
        per user and inputs, however many polls). With nothing to show (no tip yet, a
        reaction since the last one, or ``refresh``) the caller waits up to ``wait`` seconds
        (default: the orchestrator's) and then gets the fallback, replaced once the model
        answers. ``wait=math.inf, stale_ok=False`` waits for the new tip (evaluation).
        """
        lock = self._lock(user_id)
        async with lock:
            started = time.perf_counter()
            plan = await self._plan(user_id)
            last = plan.last_tip
            if not refresh and last is not None and self._reusable(last, plan):
                return await self._serve_again(last, plan.now, stale=False)
            job = self._generations.start(
                (user_id, plan.fingerprint), lambda: self._make(plan, started)
            )
            if stale_ok and not refresh and last is not None and not plan.feedback_since_last:
                return await self._serve_again(last, plan.now, stale=True)
        limit = self._wait_s if wait is None else wait
        try:
            made = await asyncio.wait_for(asyncio.shield(job), None if math.isinf(limit) else limit)
        except TimeoutError:
            async with lock:
                if not job.done():
                    return ServedTip(await self._save_pending(plan, started), cached=False)
            made = job.result()
        if made.generation is None:  # written by another process: served again here
            return await self._serve_again(made.tip, self._clock(), stale=False)
        return ServedTip(made.tip, cached=False, generation=made.generation)

    async def prepare(self, user_id: str, *, active_within: timedelta | None = None) -> bool:
        """Start writing the user's tip if their inputs changed since the last one (a sweep
        or new signals) and, with ``active_within``, a tip was served to them within it;
        True when a generation was started or is running."""
        async with self._lock(user_id):
            started = time.perf_counter()
            plan = await self._plan(user_id)
            last = plan.last_tip
            if active_within is not None and (
                last is None or plan.now - last.last_served_at > active_within
            ):
                return False
            if last is not None and self._reusable(last, plan):
                return False
            self._generations.start((user_id, plan.fingerprint), lambda: self._make(plan, started))
            return True

    async def _plan(self, user_id: str) -> Plan:
        if self._read_inline:
            return self.plan(user_id, self._clock())
        return await anyio.to_thread.run_sync(
            self.plan, user_id, self._clock(), limiter=self._readers
        )

    def _lock(self, user_id: str) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    def _reusable(self, last: TipHead, plan: Plan) -> bool:
        """The last tip still answers: same inputs, no reaction since, and not a fallback
        due for another try."""
        return (
            last.fingerprint == plan.fingerprint
            and not plan.feedback_since_last
            and last.fallback_reason != PENDING
            and (
                last.fallback_reason not in _RETRYABLE
                or plan.now - last.created_at < self._config.retry_failed_after
            )
        )

    async def _serve_again(self, last: TipHead, now: datetime, *, stale: bool) -> ServedTip:
        count = self._tips.mark_served_again(last, now)  # in memory: a poll writes nothing
        tip = replace(last, serve_count=count, last_served_at=now)
        return ServedTip(tip, cached=True, stale=stale)

    async def _make(self, plan: Plan, started: float) -> Made:
        """Write the tip (the model's, or the fallback) and store it, unless another
        process holding the lease on these inputs writes it (then wait for theirs) or the
        user's inputs changed again while this waited for a slot (then serve the newer)."""
        assembly_ms = (time.perf_counter() - started) * 1000
        key = (plan.profile.user_id, plan.fingerprint)
        while True:
            async with self._generations.slot():
                newer = self._generations.superseded(key)
                made = None if newer else await self._write_once(plan, started, assembly_ms)
            if made is not None:
                return made
            if newer is not None:
                return await asyncio.shield(newer)
            assert self._leases is not None  # only a lease held elsewhere gives no tip
            theirs = await written_elsewhere(self._tips, self._leases, plan)
            if theirs is not None:
                return Made(theirs, None)

    async def _write_once(self, plan: Plan, started: float, assembly_ms: float) -> Made | None:
        """The tip written and stored here; None while another process holds the lease."""
        write = partial(self._write_and_store, plan, started, assembly_ms)
        if self._leases is None:
            return await write()
        return await under_lease(self._leases, self._tips, plan, write)

    async def _write_and_store(self, plan: Plan, started: float, assembly_ms: float) -> Made:
        generation = await self._writer.write(plan)
        async with self._lock(plan.profile.user_id):
            tip = await self._store(plan, generation, started, assembly_ms)
        return Made(tip, generation)

    async def _save_pending(self, plan: Plan, started: float) -> StoredTip:
        """Store the fallback for a caller who cannot wait longer (the user's lock held)."""
        answer = fallback_tip(ranked_sources(plan), PENDING)
        generation = Generation(answer, PENDING, "the model is still writing", None, 0.0)
        return await self._store(plan, generation, started, 0.0)

    async def _store(
        self, plan: Plan, generation: Generation, started: float, assembly_ms: float
    ) -> StoredTip:
        # A tip is stored as of when it was made: the model's tip, finished after a pending
        # fallback was stored, is the newer one.
        tip, row = tip_record(
            plan,
            generation,
            llm=self._llm,
            assembly_ms=assembly_ms,
            total_ms=(time.perf_counter() - started) * 1000,
            made_at=max(plan.now, self._clock()),
        )
        await anyio.to_thread.run_sync(self._tips.save, tip, row)
        return tip

    def plan(self, user_id: str, now: datetime | None = None) -> Plan:
        """Read and decide everything a tip needs before the LLM is called (no LLM call)."""
        now = self._clock() if now is None else now
        registry, arm = self._registry(), self._arm(user_id)
        model = resolved_model(self._llm, arm.alias)
        return make_plan(self._tips.engine, registry, user_id, arm, now, model, self._policy)
