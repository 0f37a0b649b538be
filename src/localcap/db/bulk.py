"""Inserting many rows quickly on both backends.

Why: a plain ``executemany`` is fast on SQLite (one C loop over the rows, given tuples), but
on PostgreSQL psycopg sends one INSERT per row, each parsed and planned by the server, and a multi-row
``INSERT ... VALUES`` costs SQLAlchemy a long compile: a bulk import of 100,000 records spent
most of its time there. On PostgreSQL the rows are sent with ``COPY ... FROM STDIN`` (psycopg's
copy protocol, in the caller's transaction) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
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
