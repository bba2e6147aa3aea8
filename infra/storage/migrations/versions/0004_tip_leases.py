"""tip leases: API processes sharing a database write a user's tip for one set of inputs once

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from nudge_infra.storage.column_types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tip_leases",
        sa.Column("user_id", sa.String(length=64), primary_key=True),
        sa.Column("fingerprint", sa.String(length=64), primary_key=True),
        sa.Column("holder", sa.String(length=96), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tip_leases")
