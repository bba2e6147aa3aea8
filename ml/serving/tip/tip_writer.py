"""Write one tip from a plan: ask the model, validate its answer, fall back when either
fails. No storage: the orchestrator stores what comes out."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from ml.serving.tip.fallback import FallbackSource, fallback_tip
from ml.serving.tip.guarded_call import GuardedCall
from ml.serving.tip.llm_request import (
    GenerationConfig,
    prompt_seed,
    read_answer,
    tip_request,
    write_tip,
)
from ml.serving.tip.plan import Plan
from ml.serving.tip.provenance import Generation
from ml.serving.tip.repeat_guard import RepeatGuard, RepeatGuards
from ml.serving.tip.tip_store import TipHead

PENDING = "llm_pending"
"""The fallback served to a user with no tip to show while the model is still writing one;
the model's tip replaces it as soon as it is stored."""


def ranked_sources(plan: Plan) -> list[FallbackSource]:
    """The chosen snippets in the policy's order: what a fallback tip is made from."""
    agents = plan.registry.agents
    return [
        FallbackSource(o.agent_id, agents[o.agent_id].manifest.name, o.snippet, o.suggestion)
        for o in plan.chosen
    ]


class TipWriter:
    def __init__(
        self,
        call: GuardedCall,
        config: GenerationConfig,
        *,
        repeats: RepeatGuards | None = None,
        recent: Callable[[str, int], list[TipHead]] | None = None,
    ) -> None:
        """With ``repeats`` and ``recent`` (the user's latest tips), an answer that nearly
        repeats one of them is refused and the next candidate tried."""
        self._call = call
        self._config = config
        self._repeats = repeats if recent is not None else None
        self._recent = recent

    async def write(self, plan: Plan) -> Generation:
        """Ask the LLM and validate its answer; fall back deterministically when either fails."""
        ranked = ranked_sources(plan)
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
            snippets=[o.snippet for o in plan.chosen],
        )
        snippets = {o.agent_id: o.snippet for o in plan.chosen}
        because = {o.agent_id: o.because for o in plan.chosen}
        guard = await self._guard(plan.profile.user_id)
        written = await write_tip(
            self._call,
            request,
            candidates=self._config.candidates_for(plan.arm.alias),
            temperature=self._config.candidate_temperature,
            read=lambda content: read_answer(content, snippets, plan.prompt, because),
            seed=prompt_seed(plan.prompt),
            vet=guard,
        )
        llm_ms = (time.perf_counter() - started) * 1000
        repeat = None if guard is None else guard.record()
        if written.answer is not None:
            return Generation(written.answer, None, None, written.response, llm_ms, written, repeat)
        if guard is not None and guard.refused:  # say something else than the recent tips
            avoid = guard.repeated_agents()
            ranked = [s for s in ranked if s.agent_id not in avoid] or ranked
        answer = fallback_tip(ranked, written.reason or "no answer")
        return Generation(
            answer, written.reason, written.error, written.response, llm_ms, written, repeat
        )

    async def _guard(self, user_id: str) -> RepeatGuard | None:
        if self._repeats is None or self._recent is None:
            return None
        recent = await anyio.to_thread.run_sync(
            self._recent, user_id, self._repeats.config.recent + 1
        )
        told = [t for t in recent if t.fallback_reason != PENDING]
        return await self._repeats.guard(told)
