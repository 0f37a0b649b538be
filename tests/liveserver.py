"""A real localcap server on loopback, in a background thread, for tests over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import uvicorn
from sqlalchemy import Engine

from localcap.db.projects import ensure_user
from localcap.db.tokens import create_super_token
from localcap.server import build_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    engine: Engine
    data_dir: Path
    super_token: str
    backend: str
    _server: uvicorn.Server
    _thread: threading.Thread

    def post(self, **params: Any) -> requests.Response:
        files = params.pop("files", None)
        return requests.post(self.url, data=params, files=files, timeout=60)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.engine.dispose()


def start_server(
    data_dir: Path,
    database_url: str | None,
    backend: str,
    file_store: str | None = None,
    **limits: int,
) -> LiveServer:
    # Tests make many calls quickly: no rate limit unless a test asks for one.
    limits.setdefault("rate_limit", 0)
    limits.setdefault("survey_code_attempts", 0)
    app = build_app(data_dir, database_url, file_store, **limits)
    engine = app.state.localcap.engine
    with engine.begin() as conn:
        ensure_user(conn, "admin", super_user=True)
        token = create_super_token(conn, "admin")
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(
        f"http://127.0.0.1:{port}/api/", engine, data_dir, token, backend, server, thread
    )


#: Real REDCap project XMLs (PyCap's test data, MIT licence): see its README.
REDCAP_PROJECTS = Path(__file__).resolve().parent / "data" / "redcap_projects"
