"""Building the ASGI app from the environment (what `localcap serve` hands to uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from localcap.accesslog import AccessLog, install_access_log
from localcap.api.app import create_app
from localcap.api.context import AppState
from localcap.db.engine import open_database
from localcap.limits import DEFAULT_MAX_REQUEST_MB
from localcap.logredact import install_redaction
from localcap.runtime import tune_garbage_collector

DEFAULT_RATE_LIMIT = 600  # requests per minute per user, REDCap's default


def build_app(
    data_dir: Path,
    database_url: str | None,
    file_store: str | None,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    max_request_mb: int = DEFAULT_MAX_REQUEST_MB,
    public_url: str = "",
    survey_code_attempts: int = 10,
    invalid_token_attempts: int = 60,
    survey_code_attempts_total: int = 100,
    forwarded_allow_ips: str = "",
    admin_api: bool = False,
    upgrade: bool = True,
    access_log: bool = False,
) -> Starlette:
    """The app. ``forwarded_allow_ips``: the proxies (addresses or networks, comma-separated,
    ``*`` for any) whose ``X-Forwarded-For``/``X-Forwarded-Proto`` say who the client is and
    whether it used https; empty: nobody's (the server must then be run with uvicorn's own
    proxy headers off, as ``localcap serve`` does). ``upgrade`` false: the database's schema
    must already be current (a worker process never migrates; ``localcap db upgrade`` or
    ``localcap serve``'s parent process does, once). ``access_log``: one JSON line per
    request on standard output (:mod:`localcap.accesslog`)."""
    install_redaction()
    engine = open_database(data_dir, database_url, upgrade=upgrade)
    state = AppState(
        engine=engine,
        data_dir=data_dir,
        file_store_url=file_store,
        rate_limit=rate_limit,
        max_body_bytes=max_request_mb << 20,
        public_url=public_url.rstrip("/"),
        survey_code_attempts=survey_code_attempts,
        invalid_token_attempts=invalid_token_attempts,
        survey_code_attempts_total=survey_code_attempts_total,
        admin_api=admin_api,
    )
    app = create_app(state)
    if access_log:  # inside the proxy-headers middleware: it logs the client it names
        install_access_log()
        app.add_middleware(AccessLog)
    if forwarded_allow_ips.strip():
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=forwarded_allow_ips.strip())
    return app


def app_from_environment() -> Starlette:
    """uvicorn factory: each worker process opens its own engine (never migrating it)."""
    app = _app_from_environment()
    tune_garbage_collector()
    return app


def _app_from_environment() -> Starlette:
    return build_app(
        Path(os.environ.get("LOCALCAP_DATA_DIR", "localcap-data")),
        os.environ.get("LOCALCAP_DATABASE_URL") or None,
        os.environ.get("LOCALCAP_FILE_STORE") or None,
        int(os.environ.get("LOCALCAP_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
        int(os.environ.get("LOCALCAP_MAX_REQUEST_MB", DEFAULT_MAX_REQUEST_MB)),
        os.environ.get("LOCALCAP_PUBLIC_URL", ""),
        invalid_token_attempts=int(os.environ.get("LOCALCAP_INVALID_TOKEN_LIMIT", 60)),
        forwarded_allow_ips=os.environ.get("LOCALCAP_FORWARDED_ALLOW_IPS", ""),
        admin_api=os.environ.get("LOCALCAP_ADMIN_API", "") == "1",
        upgrade=False,
        access_log=os.environ.get("LOCALCAP_ACCESS_LOG", "1") == "1",
    )
