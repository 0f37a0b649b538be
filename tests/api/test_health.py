"""``GET /health``: 200 when the database answers, 503 when it does not; the API stays POST-only."""

from __future__ import annotations

import contextlib

import psycopg
import requests
from psycopg import sql

from liveserver import start_server
from support import postgres


def health_url(api_url: str) -> str:
    return api_url.replace("/api/", "/health")


def test_health_answers_get_and_head_without_a_token(server):
    response = requests.get(health_url(server.url), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert requests.head(health_url(server.url), timeout=10).status_code == 200
    # the API itself is unchanged: REDCap's 501 for a GET
    assert requests.get(server.url, timeout=10).status_code == 501


def test_health_is_503_while_the_database_does_not_answer(pg_server, tmp_path):
    name = "localcap_health"
    live = start_server(tmp_path, postgres.create_database(pg_server, name), "postgresql")
    admin = pg_server.connect(autocommit=True)
    ident = sql.Identifier(name)
    try:
        assert requests.get(health_url(live.url), timeout=10).status_code == 200
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident))
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        response = requests.get(health_url(live.url), timeout=30)
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": "unavailable"}
        assert "psycopg" not in response.text and name not in response.text
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident))
        assert requests.get(health_url(live.url), timeout=30).status_code == 200
    finally:
        with contextlib.suppress(psycopg.Error):
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident))
        admin.close()
        live.stop()
