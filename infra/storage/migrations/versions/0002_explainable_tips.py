"""explainable tips: agents' because clauses, tip latency and experiment variant

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_outputs") as batch:
        batch.add_column(sa.Column("because", sa.Text(), nullable=True))
    with op.batch_alter_table("tips") as batch:
        batch.add_column(sa.Column("total_ms", sa.Float(), nullable=True))
        batch.add_column(sa.Column("experiment", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("variant", sa.String(length=64), nullable=True))
        batch.create_index(
            "ix_tips_experiment_variant_total_ms", ["experiment", "variant", "total_ms"]
        )


def downgrade() -> None:
    with op.batch_alter_table("tips") as batch:
        batch.drop_index("ix_tips_experiment_variant_total_ms")
        batch.drop_column("variant")
        batch.drop_column("experiment")
        batch.drop_column("total_ms")
    with op.batch_alter_table("agent_outputs") as batch:
        batch.drop_column("because")
