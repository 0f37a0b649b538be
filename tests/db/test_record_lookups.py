"""Looking records up by name stays a lookup as the project grows (SQLite).

Without statistics SQLite guesses that ``project_id = ?`` matches about ten rows and answered
``project_id = ? AND record IN (...)`` by scanning the project's whole covering index: every
batch of a bulk import asked it, and the import grew quadratic. The statements go through the
primary key instead."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, TextClause, bindparam, text

from localcap.db import records as store
from localcap.db import schema as t
from localcap.db.engine import open_database


def plan(conn: Connection, statement: TextClause, **params: object) -> str:
    explain = text("EXPLAIN QUERY PLAN " + statement.text).bindparams(
        bindparam("names", expanding=True)
    )
    return " ".join(str(row[3]) for row in conn.execute(explain, params))


def test_existing_records_and_their_stamps_are_found_through_the_primary_key(tmp_path: Path):
    engine = open_database(tmp_path, None)
    with engine.begin() as conn:
        conn.execute(t.projects.insert().values(project_id=1, project_title="big"))
        store.create_records(conn, 1, [(str(i), None) for i in range(1, 3_001)])
        names = ["7", "2999", "4000"]
        assert store.existing_records(conn, 1, names) == {"7": None, "2999": None}
        for statement, more in (
            (store._EXISTING_SQLITE, {}),
            (store._TOUCH_SQLITE, {"stamp": "x"}),
        ):
            found = plan(conn, statement, project_id=1, names=names, **more)
            assert "sqlite_autoindex_records_1 (project_id=? AND record=?)" in found, found
    engine.dispose()
