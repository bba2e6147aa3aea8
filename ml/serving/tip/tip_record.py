"""A written tip as it is stored: the tip with its provenance, and its row's columns."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from ml.serving.llm.port import LLMClient
from ml.serving.tip.llm_request import resolved_model
from ml.serving.tip.plan import Plan
from ml.serving.tip.provenance import Generation, provenance_record
from ml.serving.tip.tip_items import tip_items
from ml.serving.tip.tip_store import StoredTip


def tip_record(
    plan: Plan,
    generation: Generation,
    *,
    llm: LLMClient,
    assembly_ms: float,
    total_ms: float,
    made_at: datetime,
) -> tuple[StoredTip, dict[str, Any]]:
    """Build the tip and the row that stores it with its provenance."""
    response, reason, arm = generation.response, generation.fallback_reason, plan.arm
    resolved = response.resolved_model if response else resolved_model(llm, arm.alias)
    answer = generation.answer
    items = tip_items(answer.tip, answer.agents, plan.chosen, answer.items_named)
    provenance = provenance_record(
        plan,
        generation,
        items,
        resolved_model=resolved,
        registry_fingerprint=plan.registry.fingerprint,
        assembly_ms=assembly_ms,
        total_ms=total_ms,
    )
    tip = StoredTip(
        tip_id=str(uuid.uuid4()),
        user_id=plan.profile.user_id,
        text=answer.tip,
        rationale=answer.rationale,
        agents=list(answer.agents),
        items=[i.to_dict() for i in items],
        fallback=reason is not None,
        fallback_reason=reason,
        fingerprint=plan.fingerprint,
        created_at=made_at,
        serve_count=1,
        last_served_at=made_at,
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
