"""The PostgreSQL query plans of the export and filter paths (docs/scaling.md).

A project of ``records`` records x 20 fields (report_export.py's generator) in a throw-away
PostgreSQL, a tenth of its records in a DAG and their change times spread over a year, a
10,000-entry audit log; then the real code paths run (record export pages, a DAG user's
export, a date-range export, Export Logging, a request's token/membership/design checks)
while their SQL is captured, and each distinct statement is shown with
``EXPLAIN (ANALYZE, BUFFERS)`` and the parameters it ran with.

Run: ``.venv/bin/python benchmarks/explain_exports.py [records]`` (default 100,000).
"""

from __future__ import annotations

import sys
import tempfile
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text, update

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from report_export import build  # noqa: E402

from localcap.db import schema as t  # noqa: E402
from localcap.db.audit import AuditEntry, read_entries, write_entry  # noqa: E402
from localcap.db.engine import open_database  # noqa: E402
from localcap.db.projects import DesignCache, load_project_user, save_dag  # noqa: E402
from localcap.db.records import iter_rows  # noqa: E402
from localcap.db.tokens import lookup_token  # noqa: E402
from localcap.db.transactions import read_snapshot  # noqa: E402
from support import postgres  # noqa: E402


def prepare(url: str, data_dir: Path, n_records: int) -> tuple[str, int, int]:
    token, _, _ = build(data_dir, n_records, 20, url, keep_rows=False)
    engine = open_database(data_dir, url)
    with engine.begin() as conn:
        pid = int(conn.execute(text("select max(project_id) from projects")).scalar_one())
        group = save_dag(conn, pid, "Site A", "site_a")
        conn.execute(
            update(t.records)
            .where(t.records.c.project_id == pid, text("cast(record as integer) % 10 = 0"))
            .values(group_id=group)
        )
        conn.execute(
            text(
                "update records set updated_at = to_char(date '2026-01-01' + "
                "(cast(record as integer) % 365), 'YYYY-MM-DD') || ' 12:00:00' "
                "where project_id = :pid"
            ),
            {"pid": pid},
        )
        for n in range(10_000):
            write_entry(
                conn,
                AuditEntry("bench", pid, "record", "export", {"n": str(n)}, status=200),
            )
        conn.execute(insert(t.dags).values(project_id=pid, group_name="Empty", unique_name="e"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return token, pid, group


def capture(url: str, data_dir: Path, token: str, pid: int, group: int) -> list[tuple[str, Any]]:
    engine = open_database(data_dir, url)
    seen: dict[str, Any] = {}

    def on_execute(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        key = " ".join(statement.split())
        if key.lower().startswith(("select", "insert", "update")) and key not in seen:
            seen[key] = parameters

    event.listen(engine, "before_cursor_execute", on_execute)
    with read_snapshot(engine) as conn:
        owner = lookup_token(conn, token)
        assert owner is not None
        load_project_user(conn, pid, owner.username)
        project = DesignCache().get(conn, pid)
        assert project is not None
        list(islice(iter_rows(conn, project), 1200))  # 3 pages of the whole export
        list(islice(iter_rows(conn, project, group_ids=[group]), 600))  # a DAG user's
        list(islice(iter_rows(conn, project, changed=("2026-12-01", "")), 600))  # date range
        list(islice(read_entries(conn, pid, newest_first=False), 100))  # Export Logging
    event.remove(engine, "before_cursor_execute", on_execute)
    engine.dispose()
    return list(seen.items())


def explain(url: str, data_dir: Path, statements: list[tuple[str, Any]]) -> None:
    engine = open_database(data_dir, url)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for statement, parameters in statements:
            shown = {
                k: (v if not isinstance(v, list) or len(v) < 4 else f"[{len(v)} values]")
                for k, v in (parameters or {}).items()
            }
            print(f"### {statement}\n\nparameters: {shown}\n\n```")
            cursor = raw.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
            for (line,) in cursor.fetchall():
                print(line)
            print("```\n")
    engine.dispose()


def main() -> None:
    n_records = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    pg = postgres.start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = postgres.create_database(pg, "explain")
            token, pid, group = prepare(url, Path(tmp), n_records)
            explain(url, Path(tmp), capture(url, Path(tmp), token, pid, group))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
