"""The provenance record stored with every tip: what it was made from, and how."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ml.registry.eligibility import Decision
from ml.serving.llm.port import LLMResponse
from ml.serving.tip.answer import Answer
from ml.serving.tip.llm_request import Written
from ml.serving.tip.plan import Plan
from ml.serving.tip.policy_record import policy_record
from ml.serving.tip.tip_context import StoredOutput
from ml.serving.tip.tip_items import TipItem


@dataclass(frozen=True, slots=True)
class Generation:
    """How the tip's text came about: the model's answer, or a fallback and why."""

    answer: Answer
    fallback_reason: str | None
    llm_error: str | None
    response: LLMResponse | None
    llm_ms: float
    written: Written | None = None
    """The answers asked for and refused; None when the model was not asked."""
    near_repeat: dict[str, object] | None = None
    """The kept answer's similarity to the user's recent tips; None when not checked."""


def provenance_record(
    plan: Plan,
    generation: Generation,
    items: Sequence[TipItem],
    *,
    resolved_model: str,
    registry_fingerprint: str,
    assembly_ms: float,
    total_ms: float,
) -> dict[str, Any]:
    """What the tip was made from and how: enough to explain it and to rebuild its prompt.

    ``inputs`` and the chosen snippets' texts are what ``assemble`` was given; with the
    prompt version they rebuild the prompt exactly (``prompt.sha256`` checks it).
    ``policy`` holds what off-policy evaluation needs: the candidates' counts, the order,
    the lead and its propensity.
    """
    answer, profile, now, arm = generation.answer, plan.profile, plan.now, plan.arm
    prompt, template = plan.prompt, arm.prompt
    experiment = (arm.experiment, arm.variant) if arm.experiment and arm.variant else None
    return {
        "cited": _cited(answer.agents, plan.eligible, plan.decisions),
        # A `tip` answer cites nothing itself: its citations are what its words name.
        "cited_by_model": list(
            answer.cited_by_model or (answer.agents if plan.prompt.answer == "full" else ())
        ),
        "items": [i.to_dict() for i in items],
        "items_named_by_model": list(answer.items_named),
        "policy": policy_record(plan.choice, plan.candidates),
        "eligible": [_eligible(o, o in plan.chosen) for o in plan.eligible],
        "excluded": [_excluded(d) for d in plan.decisions if not d.eligible],
        "context": profile.context_at(now),
        "inputs": {
            "now": now.isoformat(),
            "timezone": str(profile.timezone),
            "preferences": dict(profile.preferences),
        },
        "prompt": {
            "name": template.name,
            "version": template.version,
            "digest": template.digest,
            "sha256": prompt.sha256,
        },
        "model": {"alias": arm.alias, "resolved": resolved_model},
        "experiment": (
            {"name": experiment[0], "variant": experiment[1]} if experiment is not None else None
        ),
        **_cost(generation, assembly_ms, total_ms),
        "fallback": generation.fallback_reason is not None,
        "fallback_reason": generation.fallback_reason,
        "llm_error": generation.llm_error,
        "registry_fingerprint": registry_fingerprint,
    }


def _cost(generation: Generation, assembly_ms: float, total_ms: float) -> dict[str, Any]:
    """Time, tokens and answers the tip took."""
    response, written = generation.response, generation.written
    return {
        "latency_ms": {
            "assembly": round(assembly_ms, 2),
            "llm": round(generation.llm_ms, 2),
            "total": round(total_ms, 2),
        },
        "tokens": {
            "prompt": response.prompt_tokens if response else 0,
            "completion": response.completion_tokens if response else 0,
        },
        "llm_attempts": response.attempts if response else 0,
        "candidates": written.record() if written else None,
        "near_repeat": generation.near_repeat,
    }


def _cited(
    agents: Sequence[str], eligible: Sequence[StoredOutput], decisions: Sequence[Decision]
) -> list[dict[str, Any]]:
    """Describe each cited agent's output, with the consents that admitted it."""
    by_id = {o.agent_id: o for o in eligible}
    admitted = {d.agent_id: list(d.consents) for d in decisions}
    return [
        {
            "agent_id": a,
            "agent_version": by_id[a].agent_version,
            "computed_at": by_id[a].computed_at.isoformat(),
            "expires_at": by_id[a].expires_at.isoformat(),
            "consents": admitted.get(a, []),
            "snippet_hash": by_id[a].snippet_hash,
            "snippet": by_id[a].snippet,
            "because": by_id[a].because,
            "params": by_id[a].params,
        }
        for a in agents
    ]


def _eligible(output: StoredOutput, in_prompt: bool) -> dict[str, Any]:
    return {
        "agent_id": output.agent_id,
        "agent_version": output.agent_version,
        "snippet_hash": output.snippet_hash,
        "computed_at": output.computed_at.isoformat(),
        "snippet": output.snippet,
        "in_prompt": in_prompt,
        "items": [i.ref for i in output.items],
    }


def _excluded(decision: Decision) -> dict[str, Any]:
    return {
        "agent_id": decision.agent_id,
        "reason": str(decision.reason),
        "detail": decision.detail,
        "missing_consents": list(decision.missing),
    }
