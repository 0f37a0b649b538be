"""audit log: what an entry changed, one row per change (audit_changes)

Why: an import of 100,000 records logs 100,000 changes; kept as one JSON list in
``audit_log.changes`` that list had to be built in memory as one value (hundreds of MB) to
be written, and again to be read. The data migration moves every stored list into rows, in
order, and drops the column.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 00:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Entries moved per step of the data migration.
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "audit_changes",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("log_id", "seq", name="pk_audit_changes"),
    )
    conn = op.get_bind()
    log = sa.table("audit_log", sa.column("log_id", sa.Integer()), sa.column("changes", sa.Text()))
    rows = sa.table(
        "audit_changes",
        sa.column("log_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("change", sa.Text()),
    )
    last = 0
    while True:
        batch = conn.execute(
            sa.select(log.c.log_id, log.c.changes)
            .where(log.c.log_id > last, log.c.changes != "[]")
            .order_by(log.c.log_id)
            .limit(BATCH)
        ).all()
        if not batch:
            break
        for log_id, changes in batch:
            items = [
                {
                    "log_id": log_id,
                    "seq": seq,
                    "change": json.dumps(item, ensure_ascii=False, separators=(",", ":")),
                }
                for seq, item in enumerate(json.loads(changes or "[]"))
            ]
            if items:
                conn.execute(rows.insert(), items)
        last = batch[-1][0]
    # (SQLite rebuilds the table for this: it keeps its AUTOINCREMENT, so that a log_id is
    # never used twice; audit_changes has no foreign key for the rebuild to cascade along)
    with op.batch_alter_table(
        "audit_log", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("changes")


def downgrade() -> None:
    with op.batch_alter_table(
        "audit_log", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("changes", sa.Text(), nullable=False, server_default="[]"))
    conn = op.get_bind()
    log = sa.table("audit_log", sa.column("log_id", sa.Integer()), sa.column("changes", sa.Text()))
    rows = sa.table(
        "audit_changes",
        sa.column("log_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("change", sa.Text()),
    )
    ids = [r[0] for r in conn.execute(sa.select(rows.c.log_id).distinct())]
    for log_id in ids:
        items = [
            json.loads(r[0])
            for r in conn.execute(
                sa.select(rows.c.change).where(rows.c.log_id == log_id).order_by(rows.c.seq)
            )
        ]
        conn.execute(log.update().where(log.c.log_id == log_id).values(changes=json.dumps(items)))
    op.drop_table("audit_changes")
