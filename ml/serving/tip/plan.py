"""A tip's plan: the profile, eligibility, outputs and prompt, read before the LLM is called."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from ml.registry.eligibility import Decision, decide
from ml.registry.eligibility import candidates as consented
from ml.registry.registry import Registry
from ml.serving.tip.draws import SeededDraws
from ml.serving.tip.policy import Candidate, Choice, Policy
from ml.serving.tip.prompt import Arm, AssembledPrompt, Frame, PromptSnippet, assemble
from ml.serving.tip.tip_context import StoredOutput, read_outputs, read_suppressions
from ml.serving.tip.tip_store import TipHead, read_last_tip
from nudge_infra.storage.driver import Reader
from nudge_profile.model import Profile
from nudge_profile.store import read_profile


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything read and decided before the LLM is called."""

    profile: Profile
    decisions: list[Decision]
    eligible: list[StoredOutput]
    """Every eligible output, in the policy's order."""
    chosen: list[StoredOutput]
    """The outputs the policy put into the prompt (the first ``top_k`` of ``eligible``)."""
    choice: Choice
    candidates: list[Candidate]
    prompt: AssembledPrompt
    fingerprint: str
    last_tip: TipHead | None
    feedback_since_last: bool
    arm: Arm
    now: datetime
    registry: Registry


def make_plan(
    engine: Engine,
    registry: Registry,
    user_id: str,
    arm: Arm,
    now: datetime,
    model: str,
    policy: Policy,
) -> Plan:
    """One round trip of reads, then eligibility, the policy's choice and the prompt;
    ``model`` is the model behind ``arm.alias`` (part of the cache key)."""
    with Reader(engine) as reader:
        profile = read_profile(reader, user_id)
        context = profile.context_at(now)
        agents = list(registry.agents.values())
        wanted = consented(agents, granted=profile.granted, active_context=context)
        outputs = read_outputs(reader, user_id, wanted)
        suppressed, hidden_items = read_suppressions(reader, user_id, now)
        last, feedback_since = read_last_tip(reader, user_id)
    decisions = decide(
        agents,
        granted=profile.granted,
        active_context=context,
        outputs={k: o.ref() for k, o in outputs.items()},
        suppressions=suppressed,
        now=now,
        hidden_items=hidden_items,
    )
    # Eligibility is settled before the policy runs: the policy only orders what it may show.
    allowed = {d.agent_id: outputs[d.agent_id] for d in decisions if d.eligible}
    frame = Frame(arm.prompt, now, profile.timezone, profile.preferences, context)
    candidates, choice = _choose(policy, user_id, allowed, registry, frame.key())
    eligible, chosen = [allowed[a] for a in choice.order], [allowed[a] for a in choice.chosen]
    prompt = assemble(frame, [PromptSnippet(o.agent_id, o.snippet) for o in chosen])
    key = _cache_key(prompt, arm, model)
    return Plan(profile, decisions, eligible, chosen, choice, candidates, prompt, key, last,
                feedback_since, arm, now, registry)  # fmt: skip


def _choose(
    policy: Policy,
    user_id: str,
    allowed: Mapping[str, StoredOutput],
    registry: Registry,
    frame: str,
) -> tuple[list[Candidate], Choice]:
    candidates = [
        Candidate(o.agent_id, registry.agents[o.agent_id].priority, o.credit, o.population)
        for o in allowed.values()
    ]
    return candidates, policy.choose(candidates, context_rng(user_id, allowed.values(), frame))


def _cache_key(prompt: AssembledPrompt, arm: Arm, model: str) -> str:
    # The variant is part of the key: a tip made outside an experiment (or in another
    # variant with the same prompt and model) is not served again as this variant's.
    parts = (prompt.fingerprint, arm.alias, model, arm.experiment or "", arm.variant or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def context_rng(user_id: str, outputs: Iterable[StoredOutput], frame: str) -> SeededDraws:
    """A generator seeded by what the policy sees and by the prompt's ``frame``: the same
    inputs draw the same order, so polling does not reshuffle the prompt (and miss the tip
    cache). Whatever makes a new tip draws again: a new snippet, a new reaction, or a new
    frame (the hour, the context). A new tip never reuses an old tip's draw, so each logged
    lead is an independent draw with its recorded propensity, as off-policy evaluation
    assumes."""
    parts = [user_id, frame]
    for o in sorted(outputs, key=lambda o: o.agent_id):
        c = o.credit  # reactions, not served: serving a tip must not reshuffle the next
        parts += [
            o.agent_id,
            o.snippet_hash,
            *map(str, (c.done, c.dismissed, c.snoozed, c.ignored)),
        ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return SeededDraws(int.from_bytes(digest[:8], "big"))
