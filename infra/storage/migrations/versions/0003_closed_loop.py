"""closed loop: items, per-agent state, inferred params, learned credit

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from nudge_infra.storage.column_types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_NEW = ("agent_population", "agent_credit", "item_marks", "inferred_params", "agent_state")


def _user_id() -> sa.Column[str]:
    return sa.Column(
        "user_id",
        sa.String(length=64),
        sa.ForeignKey("users.user_id", ondelete="CASCADE"),
        primary_key=True,
    )


def _counts(integer: type[sa.Integer] | type[sa.BigInteger]) -> list[sa.Column[int]]:
    names = ("served", "done", "dismissed", "snoozed", "ignored")
    return [sa.Column(name, integer(), nullable=False) for name in names]


def upgrade() -> None:
    json = _JSON
    with op.batch_alter_table("agent_outputs") as batch:
        batch.add_column(sa.Column("items", json, nullable=True))
        batch.add_column(sa.Column("params", json, nullable=True))
    with op.batch_alter_table("tips") as batch:
        batch.add_column(sa.Column("items", json, nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
    op.create_table(
        "agent_state",
        _user_id(),
        sa.Column("agent_id", sa.String(length=64), primary_key=True),
        sa.Column("agent_version", sa.Integer(), nullable=False),
        sa.Column("state", json, nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inferred_params",
        _user_id(),
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("value", json, nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "item_marks",
        _user_id(),
        sa.Column("ref", sa.String(length=272), primary_key=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("signal_digest", sa.String(length=64), nullable=True),
        sa.Column("tip_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "agent_credit",
        _user_id(),
        sa.Column("agent_id", sa.String(length=64), primary_key=True),
        *_counts(sa.Integer),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "agent_population",
        sa.Column("agent_id", sa.String(length=64), primary_key=True),
        *_counts(sa.BigInteger),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in _NEW:
        op.drop_table(name)
    with op.batch_alter_table("tips") as batch:
        batch.drop_column("outcome")
        batch.drop_column("items")
    with op.batch_alter_table("agent_outputs") as batch:
        batch.drop_column("params")
        batch.drop_column("items")
