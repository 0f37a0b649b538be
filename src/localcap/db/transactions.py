"""Transactions: one writer per project at a time, one consistent snapshot per export.

Every change to a project (its records, files, design, users, surveys) runs in
:func:`write_transaction`, which takes the project's write lock *before anything is read*:
what the writer reads is then the latest committed state and stays so until it commits, so a
read-modify-write (merging an import into stored rows, allocating the next record name or
repeat instance) can never overwrite or collide with another writer's change.

- SQLite: pysqlite's own transaction handling is switched off (``isolation_level = None``:
  it would begin a transaction only at the first INSERT/UPDATE, after the reads) and the
  ``begin`` event emits ``BEGIN IMMEDIATE``, which takes the database's write lock at once
  (waiting up to ``busy_timeout``). That is the default for every transaction, so a write
  can never start on a stale read. Readers ask for a deferred ``BEGIN`` through
  :func:`read_snapshot`: in WAL mode their first read fixes a snapshot that later commits
  do not change, and they never block writers.
- PostgreSQL: the transaction's first statement is ``pg_advisory_xact_lock`` on the
  project (held until commit or rollback). Writers run READ COMMITTED, so every statement
  after the lock sees everything committed before it was granted. Readers run REPEATABLE
  READ READ ONLY: one snapshot for the whole export, streamed or not.

This is the documented SQLAlchemy recipe for pysqlite ("Serializable isolation /
Savepoints / Transactional DDL" in SQLAlchemy's SQLite dialect notes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event, text

#: Execution option asking SQLite for a deferred (read) BEGIN instead of BEGIN IMMEDIATE.
_READ_ONLY = "localcap_read_only"
#: First key of PostgreSQL's two-key advisory locks: localcap's project write locks (the
#: second key is the project id). Any constant other applications sharing the database
#: are unlikely to use.
PROJECT_LOCK_CLASS = 0x10CA1CA9


def install_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, decide when a transaction begins and how (see above)."""

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def write_transaction(engine: Engine, project_id: int | None) -> Iterator[Connection]:
    """A transaction holding ``project_id``'s write lock from its first statement.

    ``None`` is for writes that belong to no existing project (creating one): on SQLite they
    still take the database's write lock; on PostgreSQL nothing else can know the project
    they make until they commit.
    """
    with engine.begin() as conn:
        if project_id is not None and conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:lock_class, :project_id)"),
                {"lock_class": PROJECT_LOCK_CLASS, "project_id": project_id},
            )
        yield conn


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction seeing one consistent state of the database throughout."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:
            conn.execution_options(**{_READ_ONLY: True})
        with conn.begin():
            yield conn
