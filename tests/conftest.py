"""Shared fixtures: a real server over HTTP on SQLite and on PostgreSQL, and project builders.

Every test that takes ``server`` runs twice: once against SQLite, once against a throw-away
PostgreSQL server (started by ``support.postgres``; in CI, a missing PostgreSQL fails the run).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from liveserver import LiveServer, start_server
from support import postgres

BACKENDS = ["sqlite", "postgresql"]
_db_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    if not postgres.postgres_available():
        postgres.require_postgres()
        pytest.skip("PostgreSQL is not installed here")
    server = postgres.start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    url = None
    if backend == "postgresql":
        pg = request.getfixturevalue("pg_server")
        url = postgres.create_database(pg, f"localcap_{next(_db_names)}")
    live = start_server(data_dir, url, backend)
    try:
        yield live
    finally:
        live.stop()
