"""PostgreSQL: long texts compressed with lz4 (audit changes, record data)

Why: PostgreSQL compresses a text value over about 2 KB before storing it, with its own
``pglz`` unless told otherwise. The rows of ``audit_changes`` hold 500 changes each (over a
megabyte), and compressing them with ``pglz`` cost the database server more CPU than the rest
of a bulk import together: a 10,000-record Import Records spent 1.1 s of PostgreSQL's CPU,
0.5 s with ``lz4``, and took 2.0 s instead of 2.65 s (BENCHMARKS.md). ``lz4`` also
decompresses several times faster, which a long notes value in ``record_data`` gains from on
every export. Values already stored keep their compression (both are read alike); a server
built without lz4 support keeps ``pglz``. SQLite does not compress: nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: (table, column) of the long texts.
COLUMNS = [("audit_changes", "change"), ("record_data", "data")]


def _lz4_available(conn: sa.Connection) -> bool:
    return bool(
        conn.execute(
            sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'"
            )
        ).scalar()
    )


def _set_compression(method: str) -> None:
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql" and _lz4_available(conn):
        _set_compression("lz4")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set_compression("DEFAULT")
