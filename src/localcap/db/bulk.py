"""Inserting many rows quickly on both backends.

Why: a plain ``executemany`` is fast on SQLite (one C loop over the rows), but on PostgreSQL
psycopg sends one INSERT per row, each parsed and planned by the server, and a multi-row
``INSERT ... VALUES`` costs SQLAlchemy a long compile: a bulk import of 100,000 records spent
most of its time there. On PostgreSQL the rows are sent with ``COPY ... FROM STDIN`` (psycopg's
copy protocol, in the caller's transaction) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    from psycopg import sql

    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
