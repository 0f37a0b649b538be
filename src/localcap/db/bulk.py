"""Inserting many rows quickly on both backends.

Why: a plain ``executemany`` is fast on SQLite (one C loop over the rows, given tuples), but
on PostgreSQL psycopg sends one INSERT per row, each parsed and planned by the server, and a multi-row
``INSERT ... VALUES`` costs SQLAlchemy a long compile: a bulk import of 100,000 records spent
most of its time there. On PostgreSQL the rows are sent with ``COPY ... FROM STDIN`` (psycopg's
copy protocol, in the caller's transaction) instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in the caller's transaction."""
    if not rows:
        return
    columns = list(rows[0])
    if conn.dialect.name != "postgresql":
        # (as plain tuples to the driver's executemany: SQLAlchemy's own executemany turns
        # each dict into parameters in Python, a third of the cost of a narrow row)
        statement = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        conn.exec_driver_sql(statement, [tuple(map(row.__getitem__, columns)) for row in rows])
        return
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


#: SQLite's page cache while a bulk write runs, in KiB (SQLite's default is 2,000). A bulk
#: import inserts record names in an order unrelated to the indexes' (text) order, so every
#: batch touches leaf pages all over the record indexes; with 2 MB they were read back again
#: and again, and a 100,000-record import cost 6 % more CPU (BENCHMARKS.md).
BULK_CACHE_KIB = 16_384


@contextmanager
def bulk_page_cache(conn: Connection) -> Iterator[None]:
    """SQLite: the connection's page cache at :data:`BULK_CACHE_KIB` for the block, then
    back to what it was (which frees the rest: other connections, and this one once pooled
    again, keep the default). Nothing on PostgreSQL, whose buffers are the server's."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={int(before)}")
