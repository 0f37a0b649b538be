"""``GET /health``: what CI scripts, container orchestrators and the pytest plugin wait on.

REDCap has no such endpoint (its API answers only POST, and a GET of ``/api/`` is the 501 its
installation check expects, which localcap keeps). A separate path lets a readiness check
use a plain GET without a token: it answers 200 only once the server is up *and* its database
answers a query of localcap's own schema (the migrations ran), and 503 while the database
does not answer, so a load balancer stops sending requests to a server that cannot serve
them. The body never says why the database failed (that goes to the server's log): the
endpoint needs no token, and connection errors can name hosts and users.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcap.api.context import AppState
from localcap.db.transactions import read_snapshot

log = logging.getLogger("localcap")

HEALTH_PATH = "/health"


def database_answers(state: AppState) -> bool:
    """Whether the database answers a read of localcap's schema version (a fresh connection
    from the pool, checked by the pool first on PostgreSQL)."""
    try:
        with read_snapshot(state.engine) as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).first() is not None
    except Exception:
        log.exception("health check: the database does not answer")
        return False


def health_route(state: AppState) -> Route:
    async def health(request: Request) -> Response:
        if await run_in_threadpool(database_answers, state):
            return JSONResponse({"status": "ok", "database": "ok"})
        return JSONResponse(
            {"status": "unavailable", "database": "unavailable"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    return Route(HEALTH_PATH, health, methods=["GET", "HEAD"])
