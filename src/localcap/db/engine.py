"""Engine creation and schema migration for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from localcap.db.transactions import (
    configured_lock_timeout,
    install_sqlite_transactions,
    lock_timeout,
    read_snapshot,
    set_lock_timeout,
    write_transaction,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def database_url(data_dir: Path, url: str | None = None) -> str:
    """The URL to use: an explicit one, else ``LOCALCAP_DATABASE_URL``, else SQLite in data_dir."""
    url = url or os.environ.get("LOCALCAP_DATABASE_URL") or ""
    if not url:
        return f"sqlite:///{(data_dir / 'localcap.sqlite3').resolve()}"
    # Users write postgresql://; we ship psycopg 3, not psycopg2.
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


#: SQLite's ``synchronous`` settings localcap accepts (``LOCALCAP_SQLITE_SYNCHRONOUS``,
#: ``localcap serve --sqlite-synchronous``). FULL, the default: a commit is on disk (the WAL
#: fsynced) before the client is told 200, so an acknowledged write survives power loss or an
#: OS crash. NORMAL skips that fsync (WAL is fsynced only at checkpoints): faster for many
#: small writes, but the last acknowledged writes can be lost on power loss or an OS crash
#: (never on a crash of localcap itself). See docs/ARCHITECTURE.md and BENCHMARKS.md.
SQLITE_SYNCHRONOUS = ("full", "normal")


def sqlite_synchronous() -> str:
    """The configured ``synchronous`` setting; a clear error for anything else."""
    value = os.environ.get("LOCALCAP_SQLITE_SYNCHRONOUS", "").strip().lower() or "full"
    if value not in SQLITE_SYNCHRONOUS:
        raise ValueError(
            f"LOCALCAP_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}, "
            f"not {value!r}"
        )
    return value


def _sqlite_pragmas(synchronous: str, engine: Engine) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the CLI (tokens, imports) write while the server reads; foreign keys on.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(lock_timeout(engine) * 1000)}")
        cursor.close()

    return on_connect


#: PostgreSQL connections each server process keeps open (``LOCALCAP_DB_POOL_SIZE``), and
#: how many more it may open at a peak (``LOCALCAP_DB_MAX_OVERFLOW``). A process runs up to 40
#: request threads (anyio's default), each holding at most one connection at a time; with N
#: processes the database must allow N x (size + overflow) connections (docs/scaling.md).
DB_POOL_SIZE = 10
DB_MAX_OVERFLOW = 20


def pool_settings() -> dict[str, int]:
    """The connection pool's size, overflow and recycle age (seconds; 0: never recycle),
    from the environment; a clear error for anything but a whole number."""
    settings = {}
    for name, key, default in (
        ("LOCALCAP_DB_POOL_SIZE", "pool_size", DB_POOL_SIZE),
        ("LOCALCAP_DB_MAX_OVERFLOW", "max_overflow", DB_MAX_OVERFLOW),
        ("LOCALCAP_DB_POOL_RECYCLE", "pool_recycle", 0),
    ):
        text_value = os.environ.get(name, "").strip() or str(default)
        if not text_value.isdigit():
            raise ValueError(f"{name} must be a whole number, not {text_value!r}")
        settings[key] = int(text_value)
    settings["pool_recycle"] = settings["pool_recycle"] or -1
    return settings


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout so processes can share it, the
    configured durability, and transactions that begin as :mod:`localcap.db.transactions`
    says."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_synchronous(), engine))
        install_sqlite_transactions(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool_settings())
    set_lock_timeout(engine, configured_lock_timeout())
    return engine


class SchemaOutOfDate(Exception):
    """The database's schema is not the one this localcap needs (``localcap db upgrade``)."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration this localcap has."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def schema_revision(engine: Engine) -> str | None:
    """The database's Alembic revision (None: an empty database)."""
    with read_snapshot(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_current_schema(engine: Engine) -> None:
    """Refuse to serve a database whose schema is older (or newer) than this localcap's:
    a server process never migrates (several would race); ``localcap db upgrade`` does,
    once."""
    current, head = schema_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"The database schema is at revision {current or '(empty)'}, this localcap needs "
            f"{head}. Run `localcap db upgrade` once (with the same --data-dir or "
            "--database-url), then start the server again."
        )


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on first start)."""
    config = _config()
    # A writer like any other (SQLite: BEGIN IMMEDIATE even when there is nothing to do), so
    # its wait for the lock is bounded and typed: WriteLockTimeout.
    with write_transaction(engine, None) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(data_dir: Path, url: str | None = None, upgrade: bool = True) -> Engine:
    """Open the database for a data directory: creating and migrating it as needed, or
    (``upgrade`` false: a server's worker processes) only checking that its schema is
    current (:class:`SchemaOutOfDate` if not)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url(data_dir, url))
    if upgrade:
        migrate(engine)
    else:
        require_current_schema(engine)
    return engine
