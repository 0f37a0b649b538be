"""A real localcap server on loopback, for tests over HTTP: in a background thread
(:func:`start_server`), or as users run it, ``localcap serve`` in its own process
(:func:`spawn_cli_server`, :func:`start_cli_server`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import uvicorn
from sqlalchemy import Engine

from localcap.db.engine import open_database
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
    limits.setdefault("invalid_token_attempts", 0)
    limits.setdefault("survey_code_attempts_total", 0)
    app = build_app(data_dir, database_url, file_store, **limits)
    engine = app.state.localcap.engine
    with engine.begin() as conn:
        ensure_user(conn, "admin", super_user=True)
        token = create_super_token(conn, "admin")
    port = free_port()
    # as `localcap serve` runs it: uvicorn's own proxy headers off (the app decides whom to
    # trust), and its protocol (header and connection limits, timeouts)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
        http="localcap.api.protocol:LimitedHttpToolsProtocol",
    )
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


def spawn_cli_server(data_dir: Path, port: int, *options: str) -> subprocess.Popen:
    """``localcap serve`` on loopback (SQLite in ``data_dir``), once it answers."""
    process = subprocess.Popen(
        [
            # the installed `localcap` command, as users run it (beside this interpreter)
            str(Path(sys.executable).with_name("localcap")),
            "serve",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://127.0.0.1:{port}/api/", data={}, timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start")


@dataclass
class CliServer:
    """A ``localcap serve`` process with a super token; what the project builders need of a
    server (``url``, ``super_token``, ``data_dir``, ``backend``)."""

    url: str
    data_dir: Path
    super_token: str
    process: subprocess.Popen
    backend: str = "sqlite"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def new_super_token(data_dir: Path) -> str:
    """A super token of the SQLite database in ``data_dir`` (made if missing), for a server
    started as a separate process."""
    engine = open_database(data_dir)
    with engine.begin() as conn:
        ensure_user(conn, "admin", super_user=True)
        token = create_super_token(conn, "admin")
    engine.dispose()
    return token


def start_cli_server(data_dir: Path, *options: str) -> CliServer:
    """``localcap serve`` with these options on a free port, with a super user's token."""
    token = new_super_token(data_dir)
    port = free_port()
    process = spawn_cli_server(data_dir, port, "--rate-limit", "0", *options)
    return CliServer(f"http://127.0.0.1:{port}/api/", data_dir, token, process)
