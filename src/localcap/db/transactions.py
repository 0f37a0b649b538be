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

The wait for the lock is bounded (:data:`localcap.limits.WRITE_LOCK_TIMEOUT`, or
:func:`set_lock_timeout`): SQLite's ``busy_timeout`` is set to it before each ``BEGIN``, and
PostgreSQL's ``lock_timeout`` (``SET LOCAL``, this transaction only) before the advisory
lock. A wait that runs out raises :class:`WriteLockTimeout` before anything was written; the
API answers it with a 503 and ``Retry-After`` (``localcap.api.dispatch``).

This is the documented SQLAlchemy recipe for pysqlite ("Serializable isolation /
Savepoints / Transactional DDL" in SQLAlchemy's SQLite dialect notes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import OperationalError

from localcap import limits

#: Execution option asking SQLite for a deferred (read) BEGIN instead of BEGIN IMMEDIATE.
_READ_ONLY = "localcap_read_only"
#: First key of PostgreSQL's two-key advisory locks: localcap's project write locks (the
#: second key is the project id). Any constant other applications sharing the database
#: are unlikely to use.
PROJECT_LOCK_CLASS = 0x10CA1CA9
#: Execution option of an engine: its bound on a write's wait for the lock, in seconds.
_LOCK_TIMEOUT = "localcap_lock_timeout"
#: PostgreSQL's SQLSTATE for a lock wait ended by ``lock_timeout`` (lock_not_available).
_PG_LOCK_NOT_AVAILABLE = "55P03"


class WriteLockTimeout(Exception):
    """The write lock was not granted within the bound: another write held it throughout.
    Nothing was written; the caller may try again."""


def lock_timeout(engine_or_conn: Engine | Connection) -> float:
    """The bound, in seconds, on a write's wait for its lock."""
    value = engine_or_conn.get_execution_options().get(_LOCK_TIMEOUT)
    return float(value) if value is not None else limits.WRITE_LOCK_TIMEOUT


def configured_lock_timeout() -> float:
    """``LOCALCAP_WRITE_LOCK_TIMEOUT`` (seconds) if set, else the built-in bound; a clear
    error for anything but a number of seconds."""
    text_value = os.environ.get("LOCALCAP_WRITE_LOCK_TIMEOUT", "").strip()
    if not text_value:
        return limits.WRITE_LOCK_TIMEOUT
    try:
        value = float(text_value)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ValueError(
            f"LOCALCAP_WRITE_LOCK_TIMEOUT must be a number of seconds from 0 to 3600, "
            f"not {text_value!r}"
        )
    return value


def set_lock_timeout(engine: Engine, seconds: float) -> None:
    """Bound every later write's wait for its lock on ``engine`` to ``seconds``."""
    engine.update_execution_options(**{_LOCK_TIMEOUT: seconds})


def _is_lock_timeout(error: OperationalError) -> bool:
    """SQLite's ``database is locked`` (``busy_timeout`` ran out) or PostgreSQL's 55P03."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(orig)


@contextmanager
def _lock_wait() -> Iterator[None]:
    """Turn a lock wait that ran out into :class:`WriteLockTimeout`."""
    try:
        yield
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise WriteLockTimeout(str(error.orig)) from error
        raise


def install_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, decide when a transaction begins and how (see above)."""

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        conn.exec_driver_sql(f"PRAGMA busy_timeout={round(lock_timeout(conn) * 1000)}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def write_transaction(engine: Engine, project_id: int | None) -> Iterator[Connection]:
    """A transaction holding ``project_id``'s write lock from its first statement.

    ``None`` is for writes that belong to no existing project (creating one): on SQLite they
    still take the database's write lock; on PostgreSQL nothing else can know the project
    they make until they commit.

    Raises :class:`WriteLockTimeout` if the lock is not granted within :func:`lock_timeout`.
    """
    with engine.connect() as conn:
        with _lock_wait():
            transaction = conn.begin()  # SQLite: BEGIN IMMEDIATE waits here
        with transaction:
            if conn.dialect.name == "postgresql":
                # For this transaction only; it also bounds any later lock wait in it.
                milliseconds = round(lock_timeout(conn) * 1000)
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
                if project_id is not None:
                    with _lock_wait():
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:lock_class, :project_id)"),
                            {"lock_class": PROJECT_LOCK_CLASS, "project_id": project_id},
                        )
            yield conn


@contextmanager
def counter_transaction(engine: Engine) -> Iterator[Connection]:
    """A short write whose commit need not survive a power loss: shared counters (rate
    limits, :mod:`localcap.db.ratelimits`), which a crash may only reset. It waits for locks
    as any write does (SQLite: the database's write lock; PostgreSQL: the row's lock). On
    SQLite its commit skips the fsync, which would otherwise cost every API call one
    (``synchronous=NORMAL`` for this commit; in WAL mode the next FULL commit's fsync covers
    it too). On PostgreSQL it is an ordinary commit: ``synchronous_commit = off`` was
    measured to make each call slower, not faster (BENCHMARKS.md, "Per-request cost")."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction (pysqlite's own are off): for the next commit
            raw = conn.connection.dbapi_connection
            assert raw is not None
            configured = raw.execute("PRAGMA synchronous").fetchone()[0]
            raw.execute("PRAGMA synchronous=NORMAL")
        try:
            with _lock_wait():
                transaction = conn.begin()
            with transaction:
                if not sqlite:
                    milliseconds = round(lock_timeout(conn) * 1000)
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
                with _lock_wait():
                    yield conn
        finally:
            if sqlite:
                raw.execute(f"PRAGMA synchronous={int(configured)}")


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
