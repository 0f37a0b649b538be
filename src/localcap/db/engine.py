"""Engine creation and schema migration for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from localcap.db.transactions import install_sqlite_transactions

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


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI hook
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI (tokens, imports) write while the server reads; foreign keys on.
    # synchronous=FULL: a commit is on disk (the WAL is fsynced) before the client is told
    # 200, so an acknowledged write survives power loss or an OS crash; NORMAL would only
    # survive a crash of the process (see docs/ARCHITECTURE.md, "Transactions").
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout so processes can share it, and
    transactions that begin as :mod:`localcap.db.transactions` says."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        install_sqlite_transactions(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on first start)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(data_dir: Path, url: str | None = None) -> Engine:
    """Open (creating and migrating as needed) the database for a data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url(data_dir, url))
    migrate(engine)
    return engine
