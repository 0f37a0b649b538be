"""Smoke tests of the throw-away PostgreSQL server the suite runs on (support.postgres).

These start their own server rather than use the session's ``pg_server`` fixture: the point
is to check start, databases, C collation and, above all, that ``stop()`` leaves nothing
behind (no process, no temp dir), which a shared session server cannot show.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import URL, create_engine, text

from support import postgres


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[postgres.PostgresServer]:
    monkeypatch.delenv(postgres.ENV_URL, raising=False)  # always exercise our own cluster
    reason = postgres.postgres_unavailable_reason()
    if reason is not None:
        postgres.require_postgres()  # CI=true: fail, never skip
        pytest.skip(reason)
    with postgres.running_postgres() as server:
        yield server


def _scalar(url: str, query: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


def test_server_starts_databases_and_stops(own_server: postgres.PostgresServer) -> None:
    server = own_server
    assert server.url == (
        f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{postgres.DATABASE}"
    )
    assert "PostgreSQL" in str(_scalar(server.url, "select version()"))

    # Bytewise ordering, as on SQLite ('B' < 'a' < 'b'; a locale-aware collation says a, B, b).
    order = _scalar(
        server.url, "select string_agg(x, '' order by x) from (values ('b'), ('a'), ('B')) v(x)"
    )
    assert order == "Bab"

    first = postgres.create_database(server, "localcap_smoke_1")
    second = postgres.create_database(server, "localcap_smoke_2")
    assert first.endswith("/localcap_smoke_1") and second.endswith("/localcap_smoke_2")
    assert _scalar(first, "select current_database()") == "localcap_smoke_1"
    assert _scalar(second, "select current_database()") == "localcap_smoke_2"
    assert _scalar(second, "select current_setting('server_encoding')") == "UTF8"

    # Creating an existing name again gives an empty database, not an error.
    engine = create_engine(first)
    with engine.begin() as conn:
        conn.execute(text("create table t (x int)"))
    engine.dispose()
    postgres.create_database(server, "localcap_smoke_1")
    assert _scalar(first, "select count(*) from pg_tables where tablename = 't'") == 0

    assert server.base_dir is not None and server.base_dir.is_dir()
    pid = int((server.base_dir / "data" / "postmaster.pid").read_text().split()[0])
    server.stop()
    server.stop()  # idempotent (the context manager and atexit call it again)
    assert not server.base_dir.exists()
    assert postgres._process_gone(pid)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", connect_timeout=2)


def test_external_server_from_environment(
    own_server: postgres.PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOCALCAP_TEST_DATABASE_URL: use that server, and only drop our databases on stop()."""
    monkeypatch.setenv(
        postgres.ENV_URL, f"postgresql://postgres@127.0.0.1:{own_server.port}/postgres"
    )
    with postgres.running_postgres() as external:
        assert external.external and external.port == own_server.port
        assert _scalar(external.url, "select current_database()") == postgres.DATABASE
        postgres.create_database(external, "localcap_ext")
    # Still running, but the databases created through the external server are gone.
    with own_server.connect() as conn:
        names = {row[0] for row in conn.execute("select datname from pg_database")}
    assert "localcap_ext" not in names and postgres.DATABASE not in names


_KILLED_CHILD = """
import sys, time
from support import postgres
server = postgres.start_postgres()
print(server.base_dir, postgres._postmaster_pid(server.data_dir), flush=True)
time.sleep(600)
"""


def test_server_is_cleaned_up_when_the_test_process_is_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CI timeout SIGKILLs pytest: atexit never runs, the watchdog must stop the server."""
    monkeypatch.delenv(postgres.ENV_URL, raising=False)
    reason = postgres.postgres_unavailable_reason()
    if reason is not None:
        postgres.require_postgres()
        pytest.skip(reason)
    support_parent = Path(postgres.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(support_parent), *sys.path])}
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None
        base_dir, pid = child.stdout.readline().split()
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 20
    while Path(base_dir).exists() or not postgres._process_gone(int(pid)):
        assert time.monotonic() < deadline, "the watchdog did not clean up"
        time.sleep(0.1)


def test_bad_database_name_is_refused() -> None:
    """Names are checked before any connection, so no server is needed here."""
    nowhere = postgres.PostgresServer(
        url="", host="", port=0, user="", admin_url=URL.create("postgresql"), external=True
    )
    with pytest.raises(ValueError):
        postgres.create_database(nowhere, 'x"; drop database postgres; --')


def test_require_postgres_fails_in_ci_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy: CI=true turns a missing PostgreSQL into an error; elsewhere a skip reason."""
    monkeypatch.delenv(postgres.ENV_URL, raising=False)
    monkeypatch.setattr(postgres, "find_binaries", lambda: None)
    assert not postgres.postgres_available()
    assert "initdb" in (postgres.postgres_unavailable_reason() or "")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(postgres.PostgresUnavailable, match="CI=true"):
        postgres.require_postgres()
    monkeypatch.setenv("CI", "false")
    postgres.require_postgres()  # no error: the caller skips
