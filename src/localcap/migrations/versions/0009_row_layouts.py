"""record rows packed against column layouts (row_layouts)

Why: an export decoded each stored row's JSON object, 200 keys, and looked each value up,
more CPU than the whole csv-module baseline (BENCHMARKS.md, "Report export"). Rows written
from now on are packed: ``\\x1e`` + layout id + ``\\x1f`` + the layout's cells joined by
``\\x1f`` (model/rows.py); the layouts live here. Rows stored as JSON objects stay readable
as they are and are packed when next written, so the upgrade moves no data. The downgrade
turns every packed row back into its JSON object before it drops the table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 02:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: Rows turned back into JSON per step of the downgrade.
BATCH = 500


def upgrade() -> None:
    op.create_table(
        "row_layouts",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("layout_id", sa.String(length=16), nullable=False),
        sa.Column("columns", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"]),
        sa.PrimaryKeyConstraint("project_id", "layout_id"),
    )


def _unpacked(text: str, columns: list) -> str:
    """A packed row's JSON object (the format of this revision, written out here so that
    the migration does not change when the code does)."""
    cells = text.split("\x1f")
    data: dict = {}
    for i, column in enumerate(columns, start=1):
        if isinstance(column, str):
            if cells[i]:
                data[column] = cells[i]
        elif cells[i] == "1":
            data.setdefault(column[0], []).append(column[1])
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def downgrade() -> None:
    conn = op.get_bind()
    layouts = {
        (pid, lid): json.loads(columns)
        for pid, lid, columns in conn.execute(
            sa.text("SELECT project_id, layout_id, columns FROM row_layouts")
        )
    }
    data = sa.table(
        "record_data",
        sa.column("project_id", sa.Integer()),
        sa.column("record", sa.Text()),
        sa.column("event_id", sa.Integer()),
        sa.column("repeat_instrument", sa.String()),
        sa.column("instance", sa.Integer()),
        sa.column("data", sa.Text()),
    )
    key = (data.c.project_id, data.c.record, data.c.event_id, data.c.repeat_instrument)
    last = None
    while True:
        query = sa.select(*key, data.c.instance, data.c.data).where(data.c.data.startswith("\x1e"))
        if last is not None:
            query = query.where(sa.tuple_(*key, data.c.instance) > sa.tuple_(*last))
        batch = conn.execute(query.order_by(*key, data.c.instance).limit(BATCH)).all()
        if not batch:
            break
        for pid, record, event_id, instrument, instance, text in batch:
            lid = text[1 : text.index("\x1f")]
            conn.execute(
                data.update()
                .where(
                    data.c.project_id == pid,
                    data.c.record == record,
                    data.c.event_id == event_id,
                    data.c.repeat_instrument == instrument,
                    data.c.instance == instance,
                )
                .values(data=_unpacked(text, layouts[(pid, lid)]))
            )
        last = tuple(batch[-1][:5])
    op.drop_table("row_layouts")
