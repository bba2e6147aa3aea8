"""Bodies of the tip, feedback and agent routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class TipItemOut(BaseModel):
    agent_id: str
    ref: str = Field(description="stable id of the item, e.g. task:task-1")
    label: str


class TipOut(BaseModel):
    tip_id: str
    text: str
    rationale: str
    agents: list[str] = Field(description="ids of the agents whose snippets the tip is based on")
    items: list[TipItemOut] = Field(
        default_factory=list,
        description="what the tip is about; done closes them, dismiss and snooze hide them",
    )
    fallback: bool = Field(description="true when the tip was written without the LLM")
    cached: bool = Field(
        description="true when the previous tip was served again without an LLM call"
    )
    stale: bool = Field(
        default=False,
        description="true when the user's inputs changed since this tip was written: a new "
        "one is being written and the next request gets it",
    )
    created_at: datetime


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reaction: Literal["done", "snooze", "dismiss"]
    snooze_until: datetime | None = Field(
        default=None, description="required for snooze; an aware time in the future"
    )
    items: list[Annotated[str, StringConstraints(min_length=1, max_length=272)]] | None = Field(
        default=None,
        max_length=20,
        description="the refs of some of the tip's items to react to (default: all of them)",
    )


class FeedbackOut(BaseModel):
    tip_id: str
    reaction: str
    snooze_until: datetime | None
    recorded_at: datetime
    new: bool = Field(description="false when the same reaction had already been recorded")


class SignalsAccepted(BaseModel):
    user_id: str
    stored: int


class SignalKindOut(BaseModel):
    kind: str = Field(examples=["task"])
    description: str
    payload_schema: dict[str, Any] = Field(
        description="the JSON Schema (draft 2020-12) a payload of this kind must satisfy; "
        "formats: `local-date-time` (ISO 8601, no offset = the user's local time) and "
        "`date-or-local-date-time` (the same, or a date)"
    )
    example: dict[str, Any] = Field(description="a payload the schema accepts")
    retention_days: int = Field(description="raw signals of this kind are kept this long")
    reserved: bool = Field(description="written by Nudge itself: a gateway cannot send it")
    read_by: list[str] = Field(description="the agents that read it")


class ReactionsOut(BaseModel):
    served: int = Field(description="tips served that were about this agent, over all users")
    done: int
    dismissed: int
    snoozed: int
    ignored: int = Field(description="served and not answered within the answer window")
    rates: dict[str, float | None] = Field(
        description="each reaction's share of the tips served; null before any was served"
    )


class AgentOut(BaseModel):
    id: str
    version: int
    name: str
    description: str
    enabled: bool
    priority: int
    source: str
    kind: Literal["entrypoint", "template"]
    manifest: dict[str, Any]
    last_sweep: dict[str, Any] | None
    outputs: int
    reactions: ReactionsOut


class LoadErrorOut(BaseModel):
    file: str
    line: int | None
    field: str | None
    message: str


class RegistryOut(BaseModel):
    loaded_at: datetime
    agents: list[AgentOut]
    rejected: list[LoadErrorOut]


Rows = list[dict[str, Any]]


class UserExport(BaseModel):
    """Everything stored about one user: the rows of each table, and their events."""

    user_id: str
    exported_at: datetime
    users: Rows
    preferences: Rows
    contexts: Rows
    consents: Rows
    consent_history: Rows = Field(description="every grant and revocation, oldest first")
    signals: Rows
    agent_outputs: Rows
    tips: Rows = Field(description="with their provenance")
    tip_feedback: Rows
    suppressions: Rows
    item_marks: Rows = Field(description="items the user finished, dismissed or snoozed")
    agent_state: Rows = Field(description="what each agent keeps between its runs")
    inferred_params: Rows = Field(description="values inferred from the user's signals")
    agent_credit: Rows = Field(description="how the user answered each agent's tips")
    tip_leases: Rows = Field(description="tips being written for the user right now")
    events: Rows = Field(description="events about this user not yet pruned from the outbox")


class UserDeletedOut(BaseModel):
    user_id: str
    deleted: dict[str, int] = Field(description="rows erased, per table")


class VariantOut(BaseModel):
    name: str
    weight: int = Field(description="0 for a variant no longer in the experiments file")
    share: float = Field(description="the fraction of users assigned to it")
    prompt: str | None = Field(description="prompt version or @alias; null: the served alias")
    model: str | None = Field(description="LiteLLM alias; null: the default tip generator")


class VariantReport(VariantOut):
    tips: int = Field(description="tips written for this variant")
    served: int = Field(description="times they were served, repeats included")
    users: int
    reactions: dict[str, int] = Field(description="done, snooze, dismiss counts")
    done_rate: float = Field(description="done reactions per tip written")
    snooze_rate: float
    dismiss_rate: float
    fallback_rate: float
    latency_ms: dict[str, float | None] = Field(description="p50 and p95 of the tip path")


class ExperimentOut(BaseModel):
    name: str
    description: str
    enabled: bool
    variants: list[VariantOut]


class ExperimentReport(BaseModel):
    name: str
    description: str
    enabled: bool
    variants: list[VariantReport]
