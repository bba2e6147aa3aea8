"""Tips written without the LLM: deterministic, so a failure never leaves a user empty-handed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ml.serving.tip.answer import TIP_MAX, Answer

NOTHING_TO_SAY = "Nothing needs your attention right now. Enjoy a calm moment."


@dataclass(frozen=True, slots=True)
class FallbackSource:
    agent_id: str
    agent_name: str
    snippet: str
    suggestion: str | None


def fallback_tip(ranked: Sequence[FallbackSource], reason: str) -> Answer:
    """Serve the suggestion (or first line) of the snippet the policy ranked first; it is
    about that snippet's first item."""
    if not ranked:
        return Answer(
            NOTHING_TO_SAY,
            (),
            "No agent has a fresh snippet you allowed and that your context does not silence.",
        )
    top = ranked[0]
    text = top.suggestion or f"{top.agent_name}: {top.snippet.splitlines()[0]}"
    if len(text) > TIP_MAX:
        text = text[: TIP_MAX - 1] + "…"
    rationale = (
        f"Written without the language model ({reason}), "
        f"from {top.agent_name}, the agent ranked first for you."
    )
    return Answer(text, (top.agent_id,), rationale)
