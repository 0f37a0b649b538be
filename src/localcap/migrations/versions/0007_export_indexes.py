"""indexes of the export and filter paths (docs/scaling.md shows the plans)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 23:55:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # (project_id, sort_key) -> (project_id, sort_key, record): the keyset page's ORDER BY
    # and row comparison are served by the index alone.
    op.drop_index("ix_records_order", table_name="records")
    op.create_index("ix_records_order", "records", ["project_id", "sort_key", "record"])
    op.create_index(
        "ix_records_group_order", "records", ["project_id", "group_id", "sort_key", "record"]
    )
    op.create_index("ix_records_updated", "records", ["project_id", "updated_at"])
    op.create_index("ix_audit_log_project_log", "audit_log", ["project_id", "log_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_project_log", table_name="audit_log")
    op.drop_index("ix_records_updated", table_name="records")
    op.drop_index("ix_records_group_order", table_name="records")
    op.drop_index("ix_records_order", table_name="records")
    op.create_index("ix_records_order", "records", ["project_id", "sort_key"])
