"""rate-limit windows in the database, shared by every server process

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("bucket", sa.String(200), primary_key=True),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("previous_calls", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_rate_limits_minute", "rate_limits", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_rate_limits_minute", table_name="rate_limits")
    op.drop_table("rate_limits")
