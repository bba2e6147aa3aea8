"""Why a tip was given: its provenance, read back for a person (API and `nudge explain`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ml.registry.registry import Registry
from ml.serving.tip.explanation import CitedAgentOut, ExplainOut, UnusedAgentOut
from ml.serving.tip.learning import explain_credit
from ml.serving.tip.policy import Credit
from ml.serving.tip.tip_store import StoredTip

_MAX_CLAUSES = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def explain(tip: StoredTip, feedback: list[dict[str, Any]], registry: Registry) -> ExplainOut:
    """Read a stored tip's provenance; agents still registered are shown by their names."""
    names = {a.id: a.manifest.name for a in registry.agents.values()}
    p = tip.provenance
    context = p.get("context")
    cited = _cited(p, names)
    unused = _not_used(p, names, cited_ids={c.agent_id for c in cited})
    latency = p.get("latency_ms", {})
    return ExplainOut(
        tip_id=tip.tip_id,
        user_id=tip.user_id,
        text=tip.text,
        rationale=tip.rationale,
        because=because(cited, fallback_reason=tip.fallback_reason),
        agents=tip.agents,
        items=tip.items,
        cited=cited,
        not_used=unused,
        context=context,
        prompt={"name": p["prompt"]["name"], "version": p["prompt"]["version"]},
        model={"alias": p["model"]["alias"], "resolved": p["model"]["resolved"]},
        latency_ms={k: float(latency.get(k, 0.0)) for k in ("assembly", "llm", "total")},
        tokens={k: int(p.get("tokens", {}).get(k, 0)) for k in ("prompt", "completion")},
        fallback=tip.fallback,
        fallback_reason=tip.fallback_reason,
        fallback_detail=p.get("llm_error") if tip.fallback else None,
        cached=tip.serve_count > 1,
        serve_count=tip.serve_count,
        experiment=p.get("experiment"),
        created_at=tip.created_at,
        last_served_at=tip.last_served_at,
        feedback=feedback,
        provenance=p,
    )


def _cited(provenance: Mapping[str, Any], names: Mapping[str, str]) -> list[CitedAgentOut]:
    return [
        CitedAgentOut(
            agent_id=c["agent_id"],
            name=names.get(c["agent_id"], c["agent_id"]),
            version=c["agent_version"],
            computed_at=c["computed_at"],
            snippet=c.get("snippet", ""),
            because=c.get("because"),
            consents=c.get("consents", []),
            why_chosen=why_chosen(provenance, c["agent_id"], names),
        )
        for c in provenance.get("cited", [])
    ]


def why_chosen(
    provenance: Mapping[str, Any], agent_id: str, names: Mapping[str, str]
) -> str | None:
    """Why the policy ranked the agent where it did, from the counts it saw."""
    policy = provenance.get("policy") or {}
    order = policy.get("order", [])
    found = [c for c in policy.get("candidates", []) if c.get("agent_id") == agent_id]
    if not found or agent_id not in order:
        return None  # a tip made before the policy existed
    rank = order.index(agent_id)
    place = "ranked first" if rank == 0 else f"ranked {rank + 1} of {len(order)}"
    if policy.get("name") == "static":
        return f"{place} by its priority"
    try:
        mine = explain_credit(names.get(agent_id, agent_id), Credit.from_dict(found[0]["user"]))
    except (KeyError, TypeError, ValueError):
        mine = None
    return (
        f"{place}: {mine}"
        if mine
        else f"{place}: no answers of yours yet, so by what works for everyone"
    )


def _not_used(
    provenance: Mapping[str, Any], names: Mapping[str, str], *, cited_ids: set[str]
) -> list[UnusedAgentOut]:
    """List the excluded agents, then the eligible ones the tip does not cite."""
    context = provenance.get("context")
    excluded = [
        UnusedAgentOut(
            agent_id=e["agent_id"],
            name=names.get(e["agent_id"], e["agent_id"]),
            reason=e["reason"],
            why=_why(e, context),
            missing_consents=(
                e.get("missing_consents", []) if e["reason"] == "missing_consent" else []
            ),
            context=context if e["reason"] == "silenced_by_context" else None,
        )
        for e in provenance.get("excluded", [])
    ]
    not_cited = [
        UnusedAgentOut(
            agent_id=e["agent_id"],
            name=names.get(e["agent_id"], e["agent_id"]),
            reason="not_cited" if e.get("in_prompt", True) else "not_chosen",
            why=(
                "eligible and in the prompt, but the tip is not based on it"
                if e.get("in_prompt", True)
                else "eligible, but the policy left it out of the prompt ("
                + (why_chosen(provenance, e["agent_id"], names) or "ranked lower")
                + ")"
            ),
        )
        for e in provenance.get("eligible", [])
        if e["agent_id"] not in cited_ids
    ]
    return excluded + not_cited


def because(cited: Sequence[CitedAgentOut], *, fallback_reason: str | None) -> str:
    """One plain sentence: "Because your calendar is free 14:00–15:30 and 'Q3' is overdue"."""
    if not cited:
        if fallback_reason == "no_eligible_agents":
            return (
                "Because none of your agents had something fresh you allow Nudge to use, "
                "this is a general tip."
            )
        return "Because this tip is general: it is not based on any agent's data."
    clauses = [c.because or _quote_first_sentence(c) for c in cited[:_MAX_CLAUSES]]
    joined = clauses[-1] if len(clauses) == 1 else f"{', '.join(clauses[:-1])} and {clauses[-1]}"
    return f"Because {joined}."


def _quote_first_sentence(c: CitedAgentOut) -> str:
    first = _SENTENCE_END.split(c.snippet.strip(), maxsplit=1)[0].rstrip(".")
    if len(first) > 120:
        first = first[:119] + "…"
    return f"{c.name} reports “{first}”"


_WHY = {
    "disabled": "the agent is disabled",
    "no_output": "no output computed for you yet",
    "expired": "its last output is too old",
    "snoozed": "you snoozed it",
    "dismissed": "you dismissed this very suggestion",
    "done": "you marked this very suggestion done",
}


def _why(excluded: Mapping[str, Any], context: str | None) -> str:
    reason = excluded["reason"]
    if reason == "missing_consent":
        keys = excluded.get("missing_consents") or []
        if keys:
            return f"no consent for {', '.join(keys)}"
        return str(excluded.get("detail", "a consent is missing"))
    if reason == "silenced_by_context":
        return f"silenced by your context {context}" if context else "silenced by your context"
    if reason == "old_version":
        return f"its output is from an older version ({excluded.get('detail', '')})"
    return _WHY.get(reason, str(excluded.get("detail", reason)))
