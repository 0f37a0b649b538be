"""A throw-away PostgreSQL server for the test session, on 127.0.0.1 only.

Policy: with ``CI=true`` a missing PostgreSQL fails the run (``require_postgres``), because the
PostgreSQL suite must really run in CI; on a developer machine without it the tests skip. Set
``LOCALCAP_TEST_DATABASE_URL`` to use an existing server instead of starting one.

``initdb`` refuses to run as root, so as root the cluster is created and run as the
``postgres`` system user (created by Debian's package). ``--locale=C`` makes text order
bytewise, as on SQLite.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg


def _bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for directory in reversed(candidates):
        if Path(directory, "initdb").exists():
            return Path(directory)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def postgres_available() -> bool:
    return bool(os.environ.get("LOCALCAP_TEST_DATABASE_URL")) or _bin_dir() is not None


def require_postgres() -> None:
    """In CI, PostgreSQL must be there: fail loudly instead of skipping."""
    if os.environ.get("CI", "").lower() == "true" and not postgres_available():
        raise RuntimeError(
            "PostgreSQL is not installed but CI=true: .ci/run must install it "
            "(apt-get install postgresql)"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    url: str  # admin URL (database "postgres")
    host: str
    port: int
    user: str
    _data_dir: Path | None = None
    _run_as: str | None = None
    _bin: Path | None = None
    _stopped: bool = field(default=False)

    def dsn(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        if self._stopped or self._data_dir is None or self._bin is None:
            return
        self._stopped = True
        _run(
            [str(self._bin / "pg_ctl"), "-D", str(self._data_dir), "-m", "immediate", "stop"],
            self._run_as,
            check=False,
        )
        shutil.rmtree(self._data_dir.parent, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run(cmd: list[str], user: str | None, check: bool = True) -> subprocess.CompletedProcess:
    if user is not None:
        info = pwd.getpwnam(user)

        def demote() -> None:
            os.setgid(info.pw_gid)
            os.setuid(info.pw_uid)

        return subprocess.run(
            cmd,
            check=check,
            capture_output=True,
            preexec_fn=demote,
            cwd="/tmp",
            env={"PATH": "/usr/bin:/bin", "LANG": "C"},
        )
    return subprocess.run(cmd, check=check, capture_output=True)


def start_postgres() -> PostgresServer:
    existing = os.environ.get("LOCALCAP_TEST_DATABASE_URL")
    if existing:
        from sqlalchemy.engine import make_url

        url = make_url(existing)
        return PostgresServer(
            existing, url.host or "127.0.0.1", url.port or 5432, url.username or "postgres"
        )
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) were not found")
    run_as = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="localcap-pg-"))
    data_dir, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir()
    if run_as is not None:
        info = pwd.getpwnam(run_as)
        for path in (base, socket_dir):
            os.chown(path, info.pw_uid, info.pw_gid)
    _run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        run_as,
    )
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir} -c fsync=off -c max_connections=200"
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        run_as,
    )
    server = PostgresServer(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        "127.0.0.1",
        port,
        "postgres",
        data_dir,
        run_as,
        bin_dir,
    )
    atexit.register(server.stop)
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres"):
                break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)
    return server


def create_database(server: PostgresServer, name: str) -> str:
    """A fresh empty database; returns its SQLAlchemy URL."""
    with psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    return server.dsn(name)
