"""What an explanation says: the tip, the agents it cited, and every agent it did not use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class CitedAgentOut(BaseModel):
    agent_id: str
    name: str
    version: int
    computed_at: datetime = Field(description="when the agent computed the snippet")
    snippet: str = Field(description="the text the model was given, as data")
    because: str | None = Field(description="the agent's own reason, a clause after 'Because'")
    consents: list[str] = Field(description="the consent keys that admitted it")
    why_chosen: str | None = Field(
        default=None, description="why the policy put it into the prompt, in plain words"
    )


class UnusedAgentOut(BaseModel):
    agent_id: str
    name: str
    reason: str = Field(
        description="missing_consent, silenced_by_context, disabled, no_output, old_version, "
        "expired, snoozed, dismissed, done, item_hidden, not_chosen (eligible, but the policy "
        "left it out of the prompt) or not_cited (in the prompt, but the tip is not based on it)"
    )
    why: str = Field(description="the reason in plain words")
    missing_consents: list[str] = Field(default_factory=list)
    context: str | None = Field(default=None, description="the context that silenced it")


class ExplainOut(BaseModel):
    """Why a tip was given, and how it was made."""

    tip_id: str
    user_id: str
    text: str
    rationale: str
    because: str = Field(description="one plain sentence a person can read")
    agents: list[str]
    items: list[dict[str, str]] = Field(description="what the tip is about: agent_id, ref, label")
    cited: list[CitedAgentOut]
    not_used: list[UnusedAgentOut]
    context: str | None = Field(description="the active context when the tip was made")
    prompt: dict[str, str] = Field(description="name and version of the prompt")
    model: dict[str, str] = Field(description="alias asked and the model it resolved to")
    latency_ms: dict[str, float] = Field(description="assembly, llm, total")
    tokens: dict[str, int] = Field(description="prompt, completion")
    fallback: bool
    fallback_reason: str | None
    fallback_detail: str | None = Field(
        description="why the model's answer was not used: the validation message or LLM error"
    )
    cached: bool = Field(description="served again unchanged at least once")
    serve_count: int
    experiment: dict[str, str] | None = Field(description="A/B experiment name and variant")
    created_at: datetime
    last_served_at: datetime
    feedback: list[dict[str, Any]]
    provenance: dict[str, Any] = Field(description="the full stored record")
