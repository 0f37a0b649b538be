"""Migration 0011: rows of audit changes that log new rows as their packed text are turned
back, by the downgrade, into the JSON lists of changes with their values as objects that
the code before it reads; the entries read the same before, after and once upgraded again.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from localcap.db import schema as t
from localcap.db.audit import AuditEntry, read_entries, write_entry
from localcap.db.engine import migrate
from localcap.db.transactions import write_transaction
from localcap.model.audit import Change, PackedRowValues, field_order, row_writes
from localcap.model.project import Field, Form, Project
from localcap.model.rows import Layout, design_columns
from support.migrations import downgrade, fresh_database

PROJECT = Project(
    1,
    "P",
    False,
    {},
    fields=[
        Field("record_id", "a", "text"),
        Field("name", "a", "notes"),
        Field("cb", "a", "checkbox", select_choices_or_calculations="1, x | 2, y | 3, z"),
    ],
    forms=[Form("a", "A")],
)
ROWS = {
    ("1", 0, "", 1): {"name": 'Ann "A"\n😀', "cb": ["1", "3"], "a_complete": "2"},
    ("2", 0, "", 1): {"name": "Bob"},
}


def logged_changes() -> list[Change]:
    layout = Layout(design_columns(["a"], PROJECT.fields))
    packed = {key: layout.encode(data) for key, data in ROWS.items()}
    changes = row_writes(PROJECT, list(ROWS), {}, ROWS, {"1", "2"}, packed=(layout, packed))
    assert all(isinstance(c.values, PackedRowValues) for c in changes)
    return changes + [Change("Manage/Design ", "", "a plain change")]


def details(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        (entry,) = read_entries(conn, field_order=lambda _pid: field_order(PROJECT))
    return [(c.action, c.record, c.details) for c in entry.changes]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_downgrade_unpacks_logged_rows_and_every_version_reads_them_alike(
    backend, tmp_path, request
):
    engine = fresh_database(backend, tmp_path, request)
    try:
        entry = AuditEntry("alice", None, "record", "import", {}, changes=logged_changes())
        with write_transaction(engine, None) as conn:
            write_entry(conn, entry)
        before = details(engine)
        assert before[0][2].startswith("record_id = '1', name = 'Ann \"A\"\\n😀', cb(1) = checked")
        with engine.connect() as conn:
            (stored,) = conn.execute(select(t.audit_changes.c.change)).scalars().all()
        assert stored.startswith('{"layouts"')

        downgrade(engine, "0010")
        with engine.connect() as conn:
            (stored,) = conn.execute(select(t.audit_changes.c.change)).scalars().all()
        old_form = orjson.loads(stored)
        assert isinstance(old_form, list) and old_form[0][3] == {
            "name": 'Ann "A"\n😀',
            "cb": ["1", "3"],
            "a_complete": "2",
            "record_id": "1",
        }
        assert details(engine) == before  # (the list form is read as it always was)

        migrate(engine)
        assert details(engine) == before
    finally:
        engine.dispose()
