"""The provenance record stored with every tip: what it was made from, and how."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ml.registry.eligibility import Decision
from ml.serving.answer import Answer
from ml.serving.llm import LLMResponse
from ml.serving.tip_store import StoredOutput


@dataclass(frozen=True, slots=True)
class Generation:
    """How the tip's text came about: the model's answer, or a fallback and why."""

    answer: Answer
    fallback_reason: str | None
    llm_error: str | None
    response: LLMResponse | None
    llm_ms: float


def provenance_record(
    *,
    generation: Generation,
    eligible: Sequence[StoredOutput],
    decisions: Sequence[Decision],
    context: str | None,
    prompt_name: str,
    prompt_version: str,
    alias: str,
    resolved_model: str,
    registry_fingerprint: str,
    assembly_ms: float,
    total_ms: float,
) -> dict[str, Any]:
    by_id = {o.agent_id: o for o in eligible}
    admitted = {d.agent_id: list(d.consents) for d in decisions}
    answer, response = generation.answer, generation.response
    return {
        "cited": [
            {
                "agent_id": a,
                "agent_version": by_id[a].agent_version,
                "computed_at": by_id[a].computed_at.isoformat(),
                "expires_at": by_id[a].expires_at.isoformat(),
                "consents": admitted.get(a, []),
                "snippet_hash": by_id[a].snippet_hash,
                "snippet": by_id[a].snippet,
            }
            for a in answer.agents
        ],
        "cited_by_model": list(answer.cited_by_model or answer.agents),
        "eligible": [
            {
                "agent_id": o.agent_id,
                "agent_version": o.agent_version,
                "snippet_hash": o.snippet_hash,
            }
            for o in eligible
        ],
        "excluded": [
            {"agent_id": d.agent_id, "reason": str(d.reason), "detail": d.detail}
            for d in decisions
            if not d.eligible
        ],
        "context": context,
        "prompt": {"name": prompt_name, "version": prompt_version},
        "model": {"alias": alias, "resolved": resolved_model},
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
        "fallback": generation.fallback_reason is not None,
        "fallback_reason": generation.fallback_reason,
        "llm_error": generation.llm_error,
        "registry_fingerprint": registry_fingerprint,
    }
