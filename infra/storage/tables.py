"""Every table Nudge stores, in one SQLAlchemy ``MetaData`` shared by the migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from nudge_infra.storage.column_types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


Json: Any = JSON().with_variant(JSONB(), "postgresql")
UserId = String(64)
AgentId = String(64)


def _user_fk() -> ForeignKey:
    return ForeignKey("users.user_id", ondelete="CASCADE")


users = Table(
    "users",
    metadata,
    Column("user_id", UserId, primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

preferences = Table(
    "preferences",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

contexts = Table(
    "contexts",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("until", UTCDateTime, nullable=True),
    Column("set_at", UTCDateTime, nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("granted", Boolean, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)

consent_history = Table(
    "consent_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", UserId, _user_fk(), nullable=False, index=True),
    Column("key", String(64), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

signals = Table(
    "signals",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("external_id", String(200), primary_key=True),
    Column("payload", Json, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

agent_outputs = Table(
    "agent_outputs",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("agent_id", AgentId, primary_key=True),
    Column("agent_version", Integer, nullable=False),
    Column("snippet", Text, nullable=False),
    Column("suggestion", Text, nullable=True),
    Column("because", Text, nullable=True),
    Column("facts", Json, nullable=False),
    Column("snippet_hash", String(64), nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("items", Json, nullable=True),
    Column("params", Json, nullable=True),
    Index("ix_agent_outputs_agent_id", "agent_id"),
)

agent_state = Table(
    "agent_state",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("agent_id", AgentId, primary_key=True),
    Column("agent_version", Integer, nullable=False),
    Column("state", Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

inferred_params = Table(
    "inferred_params",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Json, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("observations", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

item_marks = Table(
    "item_marks",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("ref", String(272), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("until", UTCDateTime, nullable=True),
    Column("agent_id", AgentId, nullable=False),
    Column("label", String(80), nullable=False),
    Column("signal_digest", String(64), nullable=True),
    Column("tip_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)


def _reaction_counts(integer: type[Integer] | type[BigInteger]) -> list[Column[int]]:
    """How an agent's tips were answered: served, done, dismissed, snoozed, ignored."""
    names = ("served", "done", "dismissed", "snoozed", "ignored")
    return [Column(name, integer, nullable=False, default=0) for name in names]


agent_credit = Table(
    "agent_credit",
    metadata,
    Column("user_id", UserId, _user_fk(), primary_key=True),
    Column("agent_id", AgentId, primary_key=True),
    *_reaction_counts(Integer),
    Column("updated_at", UTCDateTime, nullable=False),
)

agent_population = Table(
    "agent_population",
    metadata,
    Column("agent_id", AgentId, primary_key=True),
    *_reaction_counts(BigInteger),
    Column("updated_at", UTCDateTime, nullable=False),
)

sweep_runs = Table(
    "sweep_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", AgentId, nullable=False),
    Column("agent_version", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("users", Integer, nullable=False),
    Column("outputs", Integer, nullable=False),
    Column("empty", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_sweep_runs_agent_id_started_at", "agent_id", "started_at"),
)

tips = Table(
    "tips",
    metadata,
    Column("tip_id", String(36), primary_key=True),
    Column("user_id", UserId, _user_fk(), nullable=False),
    Column("text", Text, nullable=False),
    Column("rationale", Text, nullable=False),
    Column("agents", Json, nullable=False),
    Column("fallback", Boolean, nullable=False),
    Column("fallback_reason", String(32), nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("prompt_name", String(64), nullable=False),
    Column("prompt_version", String(32), nullable=False),
    Column("model_alias", String(64), nullable=False),
    Column("resolved_model", String(200), nullable=True),
    Column("assembly_ms", Float, nullable=False),
    Column("llm_ms", Float, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("serve_count", Integer, nullable=False, default=1),
    Column("last_served_at", UTCDateTime, nullable=False),
    Column("provenance", Json, nullable=False),
    Column("total_ms", Float, nullable=True),
    Column("experiment", String(64), nullable=True),
    Column("variant", String(64), nullable=True),
    Column("items", Json, nullable=True),
    Column("outcome", String(16), nullable=True),
    Index("ix_tips_user_id_created_at", "user_id", "created_at"),
    Index("ix_tips_experiment_variant_total_ms", "experiment", "variant", "total_ms"),
)

tip_feedback = Table(
    "tip_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tip_id", String(36), ForeignKey("tips.tip_id", ondelete="CASCADE"), nullable=False),
    Column("user_id", UserId, _user_fk(), nullable=False, index=True),
    Column("reaction", String(16), nullable=False),
    Column("snooze_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tip_id", "reaction"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", UserId, _user_fk(), nullable=False),
    Column("agent_id", AgentId, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("snippet_hash", String(64), nullable=True),
    Column("until", UTCDateTime, nullable=True),
    Column("tip_id", String(36), ForeignKey("tips.tip_id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_suppressions_user_id_agent_id", "user_id", "agent_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("topic", String(64), nullable=False),
    Column("key", String(200), nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    Index("ix_outbox_published_at_id", "published_at", "id"),
)

# Who writes a user's tip for one set of inputs; a crashed holder's row expires.
tip_leases = Table(
    "tip_leases",
    metadata,
    Column("user_id", UserId, primary_key=True),
    Column("fingerprint", String(64), primary_key=True),
    Column("holder", String(96), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
