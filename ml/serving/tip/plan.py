"""A tip's plan: the profile, eligibility, outputs and prompt, read before the LLM is called."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from ml.registry.eligibility import Decision, candidates, decide
from ml.registry.registry import Registry
from ml.serving.tip.prompt import Arm, AssembledPrompt, PromptSnippet, assemble
from ml.serving.tip.tip_store import (
    StoredOutput,
    TipHead,
    read_last_tip,
    read_outputs,
    read_suppressions,
)
from nudge_infra.storage.driver import Reader
from nudge_profile.model import Profile
from nudge_profile.store import read_profile


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything read and decided before the LLM is called."""

    profile: Profile
    decisions: list[Decision]
    eligible: list[StoredOutput]
    prompt: AssembledPrompt
    fingerprint: str
    last_tip: TipHead | None
    feedback_since_last: bool
    arm: Arm
    now: datetime
    registry: Registry


def make_plan(
    engine: Engine, registry: Registry, user_id: str, arm: Arm, now: datetime, model: str
) -> Plan:
    """One round trip of reads, then eligibility and the prompt; ``model`` is the model
    behind ``arm.alias`` (part of the cache key)."""
    with Reader(engine) as reader:
        profile = read_profile(reader, user_id)
        context = profile.context_at(now)
        agents = list(registry.agents.values())
        wanted = candidates(agents, granted=profile.granted, active_context=context)
        outputs = read_outputs(reader, user_id, wanted)
        suppressed = read_suppressions(reader, user_id, now)
        last, feedback_since = read_last_tip(reader, user_id)
    decisions = decide(
        agents,
        granted=profile.granted,
        active_context=context,
        outputs={k: o.ref() for k, o in outputs.items()},
        suppressions=suppressed,
        now=now,
    )
    eligible = sorted(
        (outputs[d.agent_id] for d in decisions if d.eligible),
        key=lambda o: (-registry.agents[o.agent_id].priority, o.agent_id),
    )
    prompt = assemble(
        arm.prompt,
        now=now,
        timezone=profile.timezone,
        preferences=profile.preferences,
        context=context,
        snippets=[PromptSnippet(o.agent_id, o.snippet) for o in eligible],
    )
    # The variant is part of the key: a tip made outside an experiment (or in another
    # variant with the same prompt and model) is not served again as this variant's.
    key = "\x1f".join(
        (
            prompt.fingerprint,
            arm.alias,
            model,
            arm.experiment or "",
            arm.variant or "",
        )
    )
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:32]
    return Plan(
        profile,
        decisions,
        eligible,
        prompt,
        fingerprint,
        last,
        feedback_since,
        arm,
        now,
        registry,
    )
