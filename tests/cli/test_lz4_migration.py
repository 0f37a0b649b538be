"""Migration 0010: on PostgreSQL the long texts (audit changes, record data) are compressed
with lz4 from then on, and the downgrade gives them back the server's default; a record
written before or after either step reads back the same."""

from __future__ import annotations

from sqlalchemy import Connection, text

from localcap.db import projects as store
from localcap.db.engine import migrate
from localcap.db.records import create_records, load_rows, save_rows
from localcap.db.transactions import write_transaction
from localcap.model.project import Field
from localcap.model.rows import StoredRow
from support.migrations import downgrade, fresh_database

LONG = {"notes": "a long note " * 1_000}  # over PostgreSQL's 2 KB: compressed when stored


def compression(conn: Connection, table: str, column: str) -> str:
    """pg_attribute's attcompression: 'l' for lz4, '' for the server's default."""
    return conn.execute(
        text(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = CAST(:table AS regclass) AND attname = :column"
        ),
        {"table": table, "column": column},
    ).scalar_one()


def test_long_texts_use_lz4_and_the_downgrade_restores_the_default(tmp_path, request):
    engine = fresh_database("postgresql", tmp_path, request)
    try:
        with engine.connect() as conn:
            assert compression(conn, "audit_changes", "change") == "l"
            assert compression(conn, "record_data", "data") == "l"
        with write_transaction(engine, None) as conn:
            pid = store.create_project(conn, "Compressed", False, {})
            project = store.load_project(conn, pid)
            assert project is not None
            store.replace_metadata(
                conn,
                project,
                [Field("record_id", "a", "text", "ID"), Field("notes", "a", "notes", "Notes")],
            )
            create_records(conn, pid, [("1", None), ("2", None)])
            save_rows(conn, pid, [(StoredRow("1", 0, "", 1, dict(LONG)), True)])

        downgrade(engine, "0009")
        with write_transaction(engine, None) as conn:
            assert compression(conn, "audit_changes", "change") == ""
            save_rows(conn, pid, [(StoredRow("2", 0, "", 1, dict(LONG)), True)])
            assert {r.record: r.data for r in load_rows(conn, pid, ["1", "2"])} == {
                "1": LONG,
                "2": LONG,
            }

        migrate(engine)
        with engine.connect() as conn:
            assert compression(conn, "record_data", "data") == "l"
            assert [r.data for r in load_rows(conn, pid, ["1", "2"])] == [LONG, LONG]
    finally:
        engine.dispose()
