"""audit log: a new row may be logged as its packed text (no schema change)

Why: a bulk import logged each new row as a JSON object of its values, field names
included, which cost the import a tenth of its time to encode, spool, store and commit. It
now logs the packed text the row store wrote (model/rows.py), its separators written as
``\\x7f``, and a row of ``audit_changes`` holding such changes is a JSON object naming the
layouts they need: ``{"layouts": {id: columns}, "changes": [...]}`` (a change's values:
``{"@row": text, "@id": the record ID field or ""}``). The upgrade changes nothing; the
downgrade turns every such row back into the JSON list of changes with their values as
objects, which the code before this revision reads.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 00:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Rows rewritten per step of the downgrade.
BATCH = 100


def upgrade() -> None:
    pass


def _values(logged: dict, record: str, layouts: dict) -> dict:
    """A logged packed row's values (the format of this revision, written out here so that
    the migration does not change when the code does)."""
    cells = logged["@row"].split("\x7f")
    columns = layouts[cells[0][1:]]
    data: dict = {}
    for i, column in enumerate(columns, start=1):
        if isinstance(column, str):
            if cells[i]:
                data[column] = cells[i]
        elif cells[i] == "1":
            data.setdefault(column[0], []).append(column[1])
    if logged.get("@id"):
        data[logged["@id"]] = record
    return data


def _unpacked(text: str) -> str:
    row = json.loads(text)
    changes = [
        [*change[:3], _values(change[3], change[1], row["layouts"]), *change[4:]]
        if len(change) > 3 and isinstance(change[3], dict) and "@row" in change[3]
        else change
        for change in row["changes"]
    ]
    return json.dumps(changes, ensure_ascii=False, separators=(",", ":"))


def downgrade() -> None:
    conn = op.get_bind()
    changes = sa.table(
        "audit_changes",
        sa.column("log_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("change", sa.Text()),
    )
    key = (changes.c.log_id, changes.c.seq)
    last = None
    while True:
        query = sa.select(*key, changes.c.change).where(changes.c.change.startswith('{"layouts"'))
        if last is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*last))
        batch = conn.execute(query.order_by(*key).limit(BATCH)).all()
        if not batch:
            break
        for log_id, seq, text in batch:
            conn.execute(
                changes.update()
                .where(changes.c.log_id == log_id, changes.c.seq == seq)
                .values(change=_unpacked(text))
            )
        last = (batch[-1][0], batch[-1][1])
