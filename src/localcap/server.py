"""Building the ASGI app from the environment (what `localcap serve` hands to uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette

from localcap.api.app import create_app
from localcap.api.context import AppState
from localcap.db.engine import open_database


def build_app(data_dir: Path, database_url: str | None, file_store: str | None) -> Starlette:
    engine = open_database(data_dir, database_url)
    return create_app(AppState(engine=engine, data_dir=data_dir, file_store_url=file_store))


def app_from_environment() -> Starlette:
    """uvicorn factory: each worker process opens its own engine."""
    return build_app(
        Path(os.environ.get("LOCALCAP_DATA_DIR", "localcap-data")),
        os.environ.get("LOCALCAP_DATABASE_URL") or None,
        os.environ.get("LOCALCAP_FILE_STORE") or None,
    )
