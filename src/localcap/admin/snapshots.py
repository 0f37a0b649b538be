"""Snapshots of a whole server (database and stored files), restored in place while it runs,
and a whole-server reset: how a test suite returns to a known state.

A snapshot lives in ``<data-dir>/snapshots/<name>/``: ``meta.json``, the stored files its
database refers to (hard links where possible: stored files are never changed, only
written once under a new key and deleted), and the database copy:

- SQLite: ``database.sqlite3``, made with SQLite's online backup API. Saving holds the
  database's write lock (``BEGIN IMMEDIATE``, as every writer does) while the copy and the
  files are taken, so the files match the rows; readers go on. Restoring is the backup API
  the other way, into the live database: one write transaction of every page, which the
  server's open connections see as any other commit (SQLite notices the change), and
  which waits, like any writer, for the write in progress.
- PostgreSQL: a schema ``localcap_snapshot_<hash>`` in the same database, holding a copy of
  every table (``CREATE TABLE ... AS``), taken in one REPEATABLE READ snapshot while every
  project's write lock (the advisory lock writers take first) is held, so that no write
  changes or deletes a file under it. Restoring holds the same locks, then every table
  against every other writer (``EXCLUSIVE``: reads go on, seeing the old state until the
  commit), and in one transaction deletes every row, copies the snapshot's rows back in
  foreign-key order and sets each id sequence past the restored ids. A template database
  would need the server's connections closed; this does not.

A snapshot records the schema revision; a server at another revision refuses it. Files
written after a snapshot stay in the store after its restore (an upload in progress may
still need its bytes), unreferenced: ``localcap files verify`` checks only referenced ones.
The reset empties every table but the schema version and the server's secrets, keeps the
super users and their super tokens (so the caller can go on) and deletes every stored file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, text

from localcap.admin.audit import log_admin
from localcap.db import schema as t
from localcap.db.documents import iter_expected_files
from localcap.db.transactions import PROJECT_LOCK_CLASS, read_snapshot, write_transaction
from localcap.files.local import LocalFileStore
from localcap.files.store import FileStore
from localcap.model.errors import DomainError, NotFound

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Tables a reset keeps (rows of ``users``/``tokens`` are filtered instead).
KEPT_BY_RESET = {"alembic_version", "server_secrets", "users", "tokens"}


class SnapshotError(DomainError):
    """A snapshot cannot be saved or restored as asked (bad name, other schema, S3 store)."""


@dataclass(frozen=True)
class Snapshot:
    name: str
    created: str
    backend: str
    revision: str
    files: int

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "created": self.created,
            "backend": self.backend,
            "revision": self.revision,
            "files": self.files,
        }


def _root(data_dir: Path) -> Path:
    return Path(data_dir) / "snapshots"


def _checked_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise SnapshotError(
            "A snapshot name is 1 to 64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )
    return name


def _local_store(store: FileStore) -> LocalFileStore:
    if not isinstance(store, LocalFileStore):
        raise SnapshotError("Snapshots need the local file store (not S3)")
    return store


def _schema_name(name: str) -> str:
    return "localcap_snapshot_" + hashlib.sha256(name.encode()).hexdigest()[:20]


def _revision(conn: Connection) -> str:
    return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _link(source: Path, target: Path) -> None:
    """``target`` with ``source``'s content: a hard link, or a copy across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _copy_files(conn: Connection, store: LocalFileStore, target: Path) -> int:
    """Every stored file the database in ``conn`` refers to, into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for key, _size, _sha in iter_expected_files(conn):
        source = store.path_of(key)
        if source.is_file() and not (target / key).exists():
            _link(source, target / key)
            count += 1
    return count


def _sqlite_file(engine: Engine) -> str:
    return str(engine.url.database)


def _pg_project_locks(conn: Connection) -> None:
    """Every project's write lock, in project order (the lock writers take first): no write
    to a project runs until this transaction ends."""
    conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(:lock_class, project_id) "
            "FROM (SELECT project_id FROM projects ORDER BY project_id) AS p"
        ),
        {"lock_class": PROJECT_LOCK_CLASS},
    )


def _quoted(tables: list[str]) -> str:
    return ", ".join(f'"{table}"' for table in tables)


def _pg_lock_all(conn: Connection, tables: list[str]) -> None:
    """Every table against every other writer (EXCLUSIVE: plain reads go on, and see the
    state before this transaction until it commits)."""
    conn.execute(text(f"LOCK TABLE {_quoted(tables)} IN EXCLUSIVE MODE"))


def _tables(conn: Connection, schema: str | None = None) -> list[str]:
    """The database's tables (in ``schema``, default the live one), parents before the tables
    whose foreign keys refer to them."""
    reflected = MetaData()
    reflected.reflect(conn, schema=schema)  # the live schema: other branches' tables too
    return [table.name for table in reflected.sorted_tables]


def save_snapshot(engine: Engine, data_dir: Path, store: FileStore, name: str, by: str) -> Snapshot:
    """Save the whole server as ``name`` (replacing an older snapshot of that name)."""
    _checked_name(name)
    local = _local_store(store)
    root = _root(data_dir)
    staging = root / f".saving-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        if engine.dialect.name == "sqlite":
            revision, files = _save_sqlite(engine, local, staging, name, by)
        else:
            revision, files = _save_postgres(engine, local, staging, name, by)
        snapshot = Snapshot(name, created, engine.dialect.name, revision, files)
        (staging / "meta.json").write_text(json.dumps(snapshot.as_json()))
        final = root / name
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return snapshot


def _save_sqlite(
    engine: Engine, store: LocalFileStore, staging: Path, name: str, by: str
) -> tuple[str, int]:
    with write_transaction(engine, None) as conn:
        log_admin(conn, None, "snapshot save", f"Save snapshot {name}", by)
    # The write lock (BEGIN IMMEDIATE) for the copy: no write between the rows and the files.
    with write_transaction(engine, None) as conn:
        revision = _revision(conn)
        files = _copy_files(conn, store, staging / "files")
        # From another connection: SQLite refuses to back up from one holding a write
        # transaction; in WAL mode this reader sees the latest commit, and no later one can come.
        source = sqlite3.connect(_sqlite_file(engine))
        target = sqlite3.connect(staging / "database.sqlite3")
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
    return revision, files


def _save_postgres(
    engine: Engine, store: LocalFileStore, staging: Path, name: str, by: str
) -> tuple[str, int]:
    schema = _schema_name(name)
    with write_transaction(engine, None) as conn:
        log_admin(conn, None, "snapshot save", f"Save snapshot {name}", by)
    with write_transaction(engine, None) as locks, engine.connect() as conn:
        _pg_project_locks(locks)  # held until the copy below is committed
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            for table in _tables(conn):
                conn.execute(text(f'CREATE TABLE "{schema}"."{table}" AS TABLE "{table}"'))
            revision = _revision(conn)
            files = _copy_files(conn, store, staging / "files")
    return revision, files


def list_snapshots(data_dir: Path) -> list[Snapshot]:
    root = _root(data_dir)
    found = []
    for meta in sorted(root.glob("*/meta.json")) if root.is_dir() else []:
        found.append(Snapshot(**json.loads(meta.read_text())))
    return found


def _load(data_dir: Path, name: str) -> Snapshot:
    meta = _root(data_dir) / _checked_name(name) / "meta.json"
    if not meta.is_file():
        raise NotFound(f"There is no snapshot named {name}")
    return Snapshot(**json.loads(meta.read_text()))


def restore_snapshot(
    engine: Engine, data_dir: Path, store: FileStore, name: str, by: str
) -> Snapshot:
    """Bring the whole server back to snapshot ``name`` (see the module docstring)."""
    snapshot = _load(data_dir, name)
    local = _local_store(store)
    folder = _root(data_dir) / name
    if snapshot.backend != engine.dialect.name:
        raise SnapshotError(f"Snapshot {name} is of a {snapshot.backend} database")
    with read_snapshot(engine) as conn:
        revision = _revision(conn)
    if revision != snapshot.revision:
        raise SnapshotError(
            f"Snapshot {name} was saved at schema revision {snapshot.revision}; this server "
            f"is at {revision}"
        )
    # Files first: a row restored below never points at a missing file.
    for source in (folder / "files").iterdir():
        target = local.path_of(source.name)
        if not target.exists():
            _link(source, target)
    if engine.dialect.name == "sqlite":
        _restore_sqlite(engine, folder)
    else:
        _restore_postgres(engine, snapshot)
    with write_transaction(engine, None) as conn:
        log_admin(conn, None, "snapshot restore", f"Restore snapshot {name}", by)
    return snapshot


def _restore_sqlite(engine: Engine, folder: Path) -> None:
    source = sqlite3.connect(folder / "database.sqlite3")
    target = sqlite3.connect(_sqlite_file(engine), timeout=60)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def _restore_postgres(engine: Engine, snapshot: Snapshot) -> None:
    schema = _schema_name(snapshot.name)
    with write_transaction(engine, None) as conn:
        _pg_project_locks(conn)
        tables = _tables(conn)
        saved = set(_tables(conn, schema))
        if saved != set(tables):
            raise SnapshotError(f"Snapshot {snapshot.name}'s tables are missing or changed")
        _pg_lock_all(conn, tables)
        # DELETE, not TRUNCATE: TRUNCATE is not MVCC-safe (a reader whose snapshot predates
        # it would find the tables empty: a valid token refused).
        for table in reversed(tables):  # children first
            conn.execute(text(f'DELETE FROM "{table}"'))
        for table in tables:
            conn.execute(text(f'INSERT INTO "{table}" TABLE "{schema}"."{table}"'))
        _pg_reset_sequences(conn)


def _pg_reset_sequences(conn: Connection) -> None:
    """Every id sequence just past the largest id its table holds."""
    columns = conn.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() "
            "AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"
        )
    ).all()
    for table, column in columns:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f'COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)'
            ),
            {"table": f'"{table}"', "column": column},
        )


def delete_snapshot(data_dir: Path, engine: Engine, name: str) -> None:
    snapshot = _load(data_dir, name)
    if snapshot.backend == "postgresql" and engine.dialect.name == "postgresql":
        with write_transaction(engine, None) as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{_schema_name(name)}" CASCADE'))
    shutil.rmtree(_root(data_dir) / name)


def reset_server(engine: Engine, store: FileStore, by: str) -> int:
    """Empty the server (see the module docstring); return how many stored files went."""
    with write_transaction(engine, None) as conn:
        tables = _tables(conn)
        if engine.dialect.name == "postgresql":
            _pg_project_locks(conn)
            _pg_lock_all(conn, tables)
        conn.execute(t.tokens.delete().where(t.tokens.c.project_id.is_not(None)))
        for table in reversed(tables):  # children first
            if table not in KEPT_BY_RESET:
                conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(t.users.delete().where(t.users.c.super_user.is_(False)))
        if engine.dialect.name == "sqlite":
            conn.execute(text("DELETE FROM sqlite_sequence"))  # AUTOINCREMENT counters
        else:
            _pg_reset_sequences(conn)
        log_admin(conn, None, "reset", "Reset the server: every project, user and file deleted", by)
    removed = 0
    for key in list(store.iter_keys()):
        store.delete(key)
        removed += 1
    return removed
