"""A policy's choice as the provenance records it, and back: what off-policy evaluation
reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml.serving.tip.policy import Candidate, Choice


def policy_record(choice: Choice, candidates: Sequence[Candidate]) -> dict[str, Any]:
    """The JSON-safe policy block of a tip's provenance: enough to re-score it offline."""
    return {
        "name": choice.policy,
        "version": choice.version,
        "lead": choice.lead,
        "propensity": choice.propensity,
        "chosen": list(choice.chosen),
        "order": list(choice.order),
        "candidates": [c.to_dict() for c in candidates],
    }


def candidates_from_record(record: Mapping[str, Any]) -> list[Candidate]:
    """The candidates a policy record was chosen from; ValueError names what is malformed."""
    items = record.get("candidates") if isinstance(record, Mapping) else None
    if not isinstance(items, list):
        raise ValueError("policy record has no 'candidates' list")
    rebuilt = []
    for i, item in enumerate(items):
        try:
            rebuilt.append(Candidate.from_dict(item))
        except ValueError as error:
            raise ValueError(f"policy record candidates[{i}]: {error}") from None
    return rebuilt
