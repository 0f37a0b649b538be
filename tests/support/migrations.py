"""Helpers for the migration tests: a fresh database on either backend, and a downgrade."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from localcap.db.engine import MIGRATIONS_DIR, open_database
from localcap.db.transactions import write_transaction
from support import postgres

_names = itertools.count(1)


def fresh_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Engine:
    """A migrated database of ``backend`` ("sqlite" or "postgresql", on the test server)."""
    url = None
    if backend == "postgresql":
        server = request.getfixturevalue("pg_server")
        url = postgres.create_database(server, f"localcap_migration_{next(_names)}")
    return open_database(tmp_path, url)


def downgrade(engine: Engine, revision: str) -> None:
    """Alembic's downgrade to ``revision``, in one write transaction."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with write_transaction(engine, None) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
