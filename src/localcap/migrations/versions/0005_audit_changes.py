"""audit log: what changed (per record or user), and the client address

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changes", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("client", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("client")
        batch_op.drop_column("changes")
