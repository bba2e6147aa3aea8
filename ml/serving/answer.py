"""What the LLM must answer, as a JSON schema built per request, and its validation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TIP_MIN, TIP_MAX = 10, 240
RATIONALE_MAX = 240
MAX_CITED = 3


class InvalidAnswer(ValueError):
    """The model answered, but not with a tip we may serve."""


@dataclass(frozen=True, slots=True)
class Answer:
    tip: str
    agents: tuple[str, ...]
    rationale: str


def answer_schema(eligible: Sequence[str]) -> dict[str, Any]:
    """Bound every field so that even a tiny model cannot ramble or invent an agent."""
    return {
        "type": "object",
        "properties": {
            "tip": {"type": "string", "minLength": TIP_MIN, "maxLength": TIP_MAX},
            "agents": {
                "type": "array",
                "items": {"type": "string", "enum": list(eligible)},
                "minItems": 1,
                "maxItems": min(MAX_CITED, len(eligible)),
            },
            "rationale": {"type": "string", "minLength": 1, "maxLength": RATIONALE_MAX},
        },
        "required": ["tip", "agents", "rationale"],
        "additionalProperties": False,
    }


def parse_answer(content: str, eligible: Sequence[str], *, forbidden: Sequence[str] = ()) -> Answer:
    """Check the model's JSON; cited agents must be a subset of the eligible ones."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidAnswer(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("not a JSON object")
    tip, agents, rationale = data.get("tip"), data.get("agents"), data.get("rationale")
    if not isinstance(tip, str) or not TIP_MIN <= len(tip.strip()) <= TIP_MAX:
        raise InvalidAnswer(f"tip must be {TIP_MIN}-{TIP_MAX} characters")
    if not isinstance(agents, list) or not agents or not all(isinstance(a, str) for a in agents):
        raise InvalidAnswer("agents must be a non-empty list of ids")
    cited = tuple(dict.fromkeys(agents))
    unknown = sorted(set(cited) - set(eligible))
    if unknown:
        raise InvalidAnswer(f"cites agents that were not eligible: {', '.join(unknown)}")
    if len(cited) > MAX_CITED:
        raise InvalidAnswer(f"cites more than {MAX_CITED} agents")
    if not isinstance(rationale, str) or len(rationale) > RATIONALE_MAX:
        raise InvalidAnswer(f"rationale must be a string of at most {RATIONALE_MAX} characters")
    lowered = tip.lower()
    for needle in ("<snippet", "</snippet", *forbidden):
        if needle.lower() in lowered:
            raise InvalidAnswer("tip repeats prompt markup or instructions")
    return Answer(" ".join(tip.split()), cited, " ".join(rationale.split()))
