"""Run scenarios through a real Nudge and orchestrator, and check every tip they produce.

The caller builds the Nudge (``bootstrap``) on a fresh, throw-away database with a
``SettableClock``: stores, sweeps and the orchestrator must all see each scenario's time,
and the clock a Nudge reads is fixed when it is built.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import anyio

from ml.evaluation.checks import check_expectations, find_violations
from ml.evaluation.dataset import Scenario, dataset_digest
from ml.evaluation.judge import judge_tip
from ml.evaluation.materialize import materialize, user_id_for
from ml.evaluation.recording import RecordingLLM
from ml.evaluation.results import EvalRun, RunParams
from ml.evaluation.scenario_clock import SettableClock
from ml.evaluation.scenario_result import ScenarioResult
from ml.evaluation.shadow import scenario_exclusions, snippets_for
from ml.registry.registry import Registry
from ml.serving.llm.port import LLMClient, LLMError, LLMRequest
from ml.serving.tip.facts import grounded_facts
from ml.serving.tip.orchestrator import Orchestrator
from ml.serving.tip.policy import StaticPolicy
from ml.serving.tip.prompt import PromptTemplate
from ml.serving.tip.tip_store import StoredTip
from nudge.runtime import Nudge

log = logging.getLogger(__name__)

Progress = Callable[[ScenarioResult], None]


async def run_eval(
    nudge: Nudge,
    scenarios: Sequence[Scenario],
    *,
    prompt: PromptTemplate,
    alias: str,
    judge_alias: str = "judge",
    judge: bool = True,
    progress: Progress | None = None,
    judge_limit: int | None = None,
    judge_max_tokens: int = 96,
    candidates: int | None = None,
) -> EvalRun:
    """Serve one tip per scenario with ``prompt`` and the model behind ``alias``.

    ``judge_limit`` caps how many tips the judge grades (the first ones with an eligible
    agent): each grading costs about as much as the tip. ``candidates`` overrides the
    alias's best-of-n. Raises LLMError when ``alias`` is unknown to the LLM client.
    """
    clock = _settable_clock(nudge)
    resolved = nudge.llm.resolve(alias)
    judge_model = _resolve_or_none(nudge.llm, judge_alias) if judge else None
    recorder = RecordingLLM(nudge.llm)
    orchestrator = _orchestrator(nudge, recorder, clock, prompt, alias, candidates)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    # The first tip should not pay for the model reading the system prompt: latency
    # percentiles are about tips, not about a cold server.
    await orchestrator.warm_up()
    recorder.take()
    results: list[ScenarioResult] = []
    judged = 0
    for scenario in scenarios:
        wants_judge = judge and (judge_limit is None or judged < judge_limit)
        result = await _run_one(
            nudge,
            orchestrator,
            recorder,
            clock,
            scenario,
            judge_alias=judge_alias if wants_judge else None,
            judge_max_tokens=judge_max_tokens,
        )
        judged += result.judged
        results.append(result)
        if progress is not None:
            progress(result)
    params = RunParams(
        prompt_name=prompt.name,
        prompt_version=prompt.version,
        alias=alias,
        resolved_model=resolved,
        judge_alias=judge_alias if judge else None,
        judge_model=judge_model,
        candidates=orchestrator.config.candidates_for(alias),
        dataset_sha256=dataset_digest(scenarios),
        scenario_count=len(scenarios),
        started_at=started_at,
    )
    return EvalRun(params, tuple(results))


def _orchestrator(
    nudge: Nudge,
    recorder: RecordingLLM,
    clock: SettableClock,
    prompt: PromptTemplate,
    alias: str,
    candidates: int | None,
) -> Orchestrator:
    """An orchestrator like the Nudge's, on ``prompt`` and ``alias``, at temperature 0.

    Its policy is the priority order with the Nudge's top k: what a new user's prompt
    most likely holds, and the same prompt on every run, so runs compare the prompt and the
    model rather than two draws of the learned policy (`nudge simulate` measures that).
    """
    config = replace(nudge.orchestrator.config, alias=alias, temperature=0.0)
    if candidates is not None:
        config = replace(config, candidates={alias: candidates})
    return Orchestrator(
        tips=nudge.tips,
        registry=lambda: nudge.registry.current,
        llm=recorder,
        prompt=lambda: prompt,
        clock=clock,
        config=config,
        policy=StaticPolicy(nudge.orchestrator.policy.config),
    )


async def _run_one(
    nudge: Nudge,
    orchestrator: Orchestrator,
    recorder: RecordingLLM,
    clock: SettableClock,
    scenario: Scenario,
    *,
    judge_alias: str | None,
    judge_max_tokens: int,
) -> ScenarioResult:
    user_id = user_id_for(scenario)
    clock.set(scenario.now)
    try:
        failures = await anyio.to_thread.run_sync(materialize, nudge, scenario, user_id)
        if failures:
            log.warning("scenario %s: agents failed: %s", scenario.id, "; ".join(failures))
        recorder.take()
        served = await orchestrator.tip_for(user_id, refresh=True, wait=math.inf, stale_ok=False)
        requests = recorder.take()
        stored = await anyio.to_thread.run_sync(nudge.tips.get, served.tip.tip_id)
    except Exception as exc:  # one scenario's failure is a result, not the end of the run
        log.exception("scenario %s could not be run", scenario.id)
        return ScenarioResult(
            scenario.id,
            user_id,
            expectations=scenario.expect.count,
            error=f"{type(exc).__name__}: {str(exc)[:300]}",
        )
    result = _assess(nudge.registry.current, scenario, user_id, stored, requests)
    user_prompt = _user_message(requests)
    if judge_alias is None or not result.eligible or user_prompt is None:
        return result
    judgment = await judge_tip(
        nudge.llm,
        alias=judge_alias,
        tip=stored.text,
        prompt=user_prompt,
        max_tokens=judge_max_tokens,
        timeout_s=orchestrator.config.timeout_s * 2,
    )
    return replace(result, judged=True, judge_score=judgment.score, judge_reason=judgment.reason)


def _assess(
    registry: Registry,
    scenario: Scenario,
    user_id: str,
    stored: StoredTip,
    requests: Sequence[LLMRequest],
) -> ScenarioResult:
    """Check a stored tip, its provenance and the prompt that reached the model."""
    provenance: dict[str, Any] = dict(stored.provenance or {})
    eligible = tuple(_agent_ids(provenance.get("eligible")))
    cited_entries = [c for c in provenance.get("cited") or [] if isinstance(c, dict)]
    cited = tuple(_agent_ids(cited_entries))
    cited_texts = [str(c.get("snippet") or "") for c in cited_entries]
    excluded = scenario_exclusions(registry, scenario)
    would_say = {a: s.text for a, s in snippets_for(registry, scenario).items()}
    violations = find_violations(
        excluded=excluded,
        eligible=eligible,
        cited=cited,
        prompt=_prompt_text(requests),
        would_say={a: t for a, t in would_say.items() if a in excluded},
        admitted=[t for a, t in would_say.items() if a not in excluded],
    )
    outcome = check_expectations(scenario.expect, tip=stored.text, cited=cited)
    facts = grounded_facts(stored.text, cited_texts) if any(cited_texts) else []
    latency = (provenance.get("latency_ms") or {}).get("total")
    tokens = provenance.get("tokens") or {}
    return ScenarioResult(
        scenario_id=scenario.id,
        user_id=user_id,
        tip_id=stored.tip_id,
        tip=stored.text,
        fallback=stored.fallback,
        fallback_reason=stored.fallback_reason,
        fallback_detail=_text_or_none(provenance.get("llm_error")),
        eligible=eligible,
        cited=cited,
        grounded=bool(facts) if any(cited_texts) else None,
        grounding_facts=tuple(dict.fromkeys(f.label for f in facts)),
        met=outcome.met,
        expectations=outcome.total,
        missed=outcome.missed,
        consent_violations=violations.consent,
        context_violations=violations.context,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        prompt_tokens=int(tokens.get("prompt") or 0),
        completion_tokens=int(tokens.get("completion") or 0),
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _settable_clock(nudge: Nudge) -> SettableClock:
    if not isinstance(nudge.clock, SettableClock):
        raise TypeError(
            "run_eval moves the clock to each scenario's time: build the Nudge with "
            "bootstrap(settings, clock=SettableClock())"
        )
    return nudge.clock


def _resolve_or_none(llm: LLMClient, alias: str) -> str | None:
    try:
        return llm.resolve(alias)
    except LLMError:
        return None  # every judgment will fail and be counted as such


def _agent_ids(entries: object) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [str(e["agent_id"]) for e in entries if isinstance(e, dict) and "agent_id" in e]


def _prompt_text(requests: Sequence[LLMRequest]) -> str:
    """What the requests carried of the user's data: the system text and the last user
    message (the turns before it are the prompt's fixed worked examples)."""
    return "\n".join(m.content for r in requests for m in (r.messages[0], r.messages[-1]))


def _user_message(requests: Sequence[LLMRequest]) -> str | None:
    return next((r.messages[-1].content for r in requests if r.messages), None)
