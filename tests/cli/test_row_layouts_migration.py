"""Migration 0009 (row layouts): the downgrade turns every packed row back into the JSON
object it holds, so an older localcap reads the same records; upgrading again reads them
back unchanged. On SQLite and on PostgreSQL."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import inspect, select

from localcap.db import projects as store
from localcap.db import schema as t
from localcap.db.engine import migrate
from localcap.db.records import create_records, load_rows, save_rows
from localcap.db.transactions import write_transaction
from localcap.model.project import Field
from localcap.model.rows import StoredRow
from support.migrations import downgrade, fresh_database

FIELDS = [
    Field("record_id", "a", "text", "ID"),
    Field("name", "a", "notes", "Name"),
    Field("cb", "a", "checkbox", "CB", select_choices_or_calculations="1, x | 2, y | 3, z"),
]
DATA = {
    "1": {"record_id": "1", "name": 'Ann "A"\n😀', "cb": ["1", "3"], "a_complete": "2"},
    "2": {"name": "Bob"},
    "3": {"name": "has \x1f the separator", "cb": ["2"]},  # stored as JSON
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_downgrade_unpacks_every_row_and_the_upgrade_reads_them_back(
    backend, tmp_path, request
):
    engine = fresh_database(backend, tmp_path, request)
    try:
        with write_transaction(engine, None) as conn:
            pid = store.create_project(conn, "Layouts", False, {})
            project = store.load_project(conn, pid)
            assert project is not None
            store.replace_metadata(conn, project, FIELDS)
            create_records(conn, pid, [(record, None) for record in DATA])
            save_rows(conn, pid, [(StoredRow(r, 0, "", 1, dict(d)), True) for r, d in DATA.items()])
        with engine.connect() as conn:
            texts = dict(conn.execute(select(t.record_data.c.record, t.record_data.c.data)).all())
        assert [texts[r][0] for r in DATA] == ["\x1e", "\x1e", "{"]

        downgrade(engine, "0008")
        with engine.connect() as conn:
            assert "row_layouts" not in inspect(conn).get_table_names()
            texts = dict(conn.execute(select(t.record_data.c.record, t.record_data.c.data)).all())
        assert {r: orjson.loads(text) for r, text in texts.items()} == DATA

        migrate(engine)
        with engine.connect() as conn:
            rows = load_rows(conn, pid, list(DATA))
        assert {row.record: row.data for row in rows} == DATA
    finally:
        engine.dispose()
