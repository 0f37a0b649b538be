"""A throw-away PostgreSQL server for the test session, listening on 127.0.0.1 only.

Every DB test runs on SQLite *and* on PostgreSQL, so the suite needs a real server. Rather
than depend on a system service (port 5432, a password, a pre-made database), the session
starts its own cluster in a temporary directory on a free port and deletes it afterwards:

    server = start_postgres()                 # or: with running_postgres() as server: ...
    server.url                                # postgresql+psycopg://postgres@127.0.0.1:PORT/localcap_test
    url = create_database(server, "localcap_7")   # a fresh, empty database per test/server
    server.stop()                             # also done at interpreter exit (atexit)

Policy (skip or fail?):

- With ``CI=true`` a missing PostgreSQL is an error: ``require_postgres()`` raises
  :class:`PostgresUnavailable`, so the PostgreSQL half of the suite fails loudly instead of
  silently turning into skips (``.ci/run`` installs Debian's ``postgresql`` package first).
- On a developer machine without PostgreSQL the tests may skip, with
  ``postgres_unavailable_reason()`` as the reason.

Set ``LOCALCAP_TEST_DATABASE_URL`` (e.g. ``postgresql://me:pw@db.local:5432/postgres``) to use
an existing server instead of starting one. Its database is only used as the maintenance
database (to run ``CREATE DATABASE``), so the user needs ``CREATEDB``; the test databases
(``localcap_test`` and those from :func:`create_database`) are dropped again by ``stop()``.

Details that matter:

- ``initdb`` and ``postgres`` refuse to run as root. As root the cluster is created and run
  as the ``postgres`` system user (Debian's package creates it; otherwise a dedicated
  ``localcap-pg`` system user is created), with the temporary directory owned by that user.
- ``initdb --locale=C -E UTF8`` (and ``LC_COLLATE 'C'`` for every database) makes
  ``ORDER BY`` on text bytewise, as on SQLite, so both backends return rows in the same order.
- The unix socket lives in the temporary directory, so nothing is written to
  ``/var/run/postgresql`` and no other cluster on the machine is disturbed.
- Durability is switched off (``fsync=off`` ...): the data is thrown away anyway, and it
  makes ``CREATE DATABASE`` and commits much faster.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_URL = "LOCALCAP_TEST_DATABASE_URL"
DATABASE = "localcap_test"
DRIVER = "postgresql+psycopg"
HOST = "127.0.0.1"
SUPERUSER = "postgres"
# Used only when running as root on a machine without Debian's "postgres" user.
FALLBACK_OS_USER = "localcap-pg"

_START_TIMEOUT = 60.0  # seconds; a cold CI machine can be slow to run initdb + start
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be used for the tests (not installed, or it failed to start)."""


@dataclass(frozen=True)
class PostgresBinaries:
    """The server programs of one PostgreSQL installation (all from the same version)."""

    initdb: Path
    pg_ctl: Path
    postgres: Path


# ---------------------------------------------------------------------------- discovery


def _version_key(bin_dir: str) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin -> (15,); 9.6 -> (9, 6); unparsable versions sort first."""
    version = Path(bin_dir).parent.name
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (-1,)


def _binaries_in(directory: Path) -> PostgresBinaries | None:
    paths = [directory / name for name in ("initdb", "pg_ctl", "postgres")]
    if all(p.is_file() and os.access(p, os.X_OK) for p in paths):
        return PostgresBinaries(*paths)
    return None


def find_binaries() -> PostgresBinaries | None:
    """The server binaries: Debian's ``/usr/lib/postgresql/<highest>/bin``, else PATH.

    Debian does not put ``initdb``/``postgres`` on PATH (only its wrappers), hence the
    versioned directory first. A PATH hit is resolved through symlinks because ``pg_ctl``
    looks for ``postgres`` next to its real location.
    """
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        found = _binaries_in(Path(directory))
        if found is not None:
            return found
    initdb = shutil.which("initdb")
    if initdb is not None:
        return _binaries_in(Path(initdb).resolve().parent)
    return None


def _os_user_for_server() -> str | None:
    """The OS user to run initdb/postgres as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return FALLBACK_OS_USER  # created on demand by _ensure_os_user


def postgres_unavailable_reason() -> str | None:
    """None if the tests can get a PostgreSQL server, else why not (for skip/fail messages)."""
    if os.environ.get(ENV_URL):
        return None
    if find_binaries() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found under "
            "/usr/lib/postgresql/*/bin or on PATH; install them (Debian: apt-get install "
            f"postgresql) or set {ENV_URL}"
        )
    if (
        _os_user_for_server() == FALLBACK_OS_USER
        and not _user_exists(FALLBACK_OS_USER)
        and shutil.which("useradd") is None
    ):
        return (
            "running as root, initdb needs an unprivileged user, and there is no "
            f"'{SUPERUSER}' user and no useradd to create '{FALLBACK_OS_USER}'"
        )
    return None


def postgres_available() -> bool:
    """Whether :func:`start_postgres` can be expected to work here."""
    return postgres_unavailable_reason() is None


def in_ci() -> bool:
    """CI systems (and .ci/run) set CI=true; there a missing PostgreSQL is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_postgres() -> None:
    """Raise :class:`PostgresUnavailable` if PostgreSQL is missing and we are in CI.

    Outside CI this returns even when PostgreSQL is missing: the caller then skips with
    ``postgres_unavailable_reason()``. Typical use in a fixture::

        reason = postgres_unavailable_reason()
        if reason:
            require_postgres()      # CI: fail here
            pytest.skip(reason)     # elsewhere: skip
    """
    reason = postgres_unavailable_reason()
    if reason is not None and in_ci():
        raise PostgresUnavailable(
            f"CI=true but PostgreSQL is not usable: {reason}. The PostgreSQL tests must run "
            "in CI, so this is a failure, not a skip (.ci/run installs Debian's postgresql)."
        )


# ---------------------------------------------------------------------------- the server


@dataclass
class PostgresServer:
    """A running PostgreSQL server the tests may create databases on.

    ``url`` is the SQLAlchemy URL of the ``localcap_test`` database. ``stop()`` is
    idempotent; for a server we started it also deletes the cluster's directory, for an
    external one (``LOCALCAP_TEST_DATABASE_URL``) it drops the databases we created.
    """

    url: str
    host: str
    port: int
    user: str
    admin_url: URL  # maintenance database, for CREATE/DROP DATABASE (has the password)
    external: bool = False
    base_dir: Path | None = None  # our cluster's temp dir (data, socket, log); None if external
    os_user: str | None = None  # OS user the cluster runs as, when not ourselves
    binaries: PostgresBinaries | None = None
    created: list[str] = field(default_factory=list)
    stopped: bool = False
    watchdog: subprocess.Popen[bytes] | None = None  # cleans up if we die without atexit

    @property
    def data_dir(self) -> Path | None:
        return None if self.base_dir is None else self.base_dir / "data"

    @property
    def log_file(self) -> Path | None:
        return None if self.base_dir is None else self.base_dir / "postgres.log"

    def database_url(self, database: str) -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return self.admin_url.set(drivername=DRIVER, database=database).render_as_string(
            hide_password=False
        )

    def connect(self, database: str | None = None, **kwargs: object) -> psycopg.Connection:
        """A psycopg connection (to the maintenance database by default)."""
        return psycopg.connect(_conninfo(self.admin_url, database), **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.external:
            self._drop_created()
            return
        try:
            self._stop_cluster()
        finally:
            if self.base_dir is not None:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            if self.watchdog is not None:
                # EOF tells it we are done; it finds nothing left to clean and exits.
                with contextlib.suppress(OSError, ValueError):
                    assert self.watchdog.stdin is not None
                    self.watchdog.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.watchdog.wait(timeout=5)

    def _stop_cluster(self) -> None:
        assert self.binaries is not None and self.data_dir is not None
        pid = _postmaster_pid(self.data_dir)
        if pid is None:
            return
        # "immediate": no checkpoint, nothing to keep. Falls back to a SIGKILL of the
        # postmaster if pg_ctl cannot stop it (e.g. it hangs), so no server outlives us.
        result = _run(
            [
                str(self.binaries.pg_ctl),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-w",
                "-t",
                "30",
                "stop",
            ],
            self.os_user,
            cwd=self.base_dir,
            check=False,
        )
        if result.returncode != 0:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        # pg_ctl -w returns once postmaster.pid is gone, a moment before the process exits.
        _wait_for_exit(pid, timeout=10)

    def _drop_created(self) -> None:
        """Best effort: an external server keeps running, but not with our databases."""
        with contextlib.suppress(psycopg.Error), self.connect(autocommit=True) as conn:
            for name in reversed(self.created):
                with contextlib.suppress(psycopg.Error):
                    _drop(conn, name)
        self.created.clear()

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _process_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (a zombie waiting for PID 1 to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return status.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _process_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _conninfo(url: URL, database: str | None = None) -> str:
    """A libpq URI (what psycopg.connect takes) from a SQLAlchemy URL."""
    url = url.set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    if not _user_exists(name):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
    return pwd.getpwnam(name)


def _run(
    cmd: list[str], os_user: str | None, *, cwd: Path | None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program, as ``os_user`` if given (we are root then).

    The environment is minimal so a caller's PG* variables (PGHOST, PGPORT, PGDATA...) cannot
    redirect initdb/pg_ctl to another cluster. On failure the program's output is in the error.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    kwargs: dict[str, object] = {}
    if os_user is not None:
        info = pwd.getpwnam(os_user)
        kwargs = {"user": info.pw_uid, "group": info.pw_gid, "extra_groups": []}
        env["HOME"] = str(cwd) if cwd is not None else "/tmp"
        env["USER"] = env["LOGNAME"] = os_user
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    if check and result.returncode != 0:
        raise PostgresUnavailable(
            f"{shlex.join(cmd)} failed with exit code {result.returncode}"
            + (f" (as user {os_user})" if os_user else "")
            + f":\n{result.stdout}{result.stderr}"
        )
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _traversable_by_others(path: Path) -> bool:
    """Whether another (unprivileged) user can reach entries under ``path``."""
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _make_base_dir(os_user: str | None) -> Path:
    """The cluster's temp dir; when the cluster runs as another user, that user owns it.

    As root, $TMPDIR may be under /root (mode 700) where the postgres user cannot go, so
    then we fall back to /tmp.
    """
    parent = Path(tempfile.gettempdir())
    if os_user is not None and not _traversable_by_others(parent):
        parent = Path("/tmp")
    base = Path(tempfile.mkdtemp(prefix="localcap-pg-", dir=parent))
    if os_user is not None:
        info = _ensure_os_user(os_user)
        os.chown(base, info.pw_uid, info.pw_gid)
    return base


# Run by a separate Python process: blocks reading stdin, a pipe whose only write end is held
# by the test process. EOF comes when that process closes it (stop()) or dies in any way,
# including SIGTERM/SIGKILL from a CI timeout, when atexit handlers never run. Then it shuts
# the postmaster down (SIGQUIT = immediate shutdown, SIGKILL if that hangs) and removes the
# cluster's directory, so no server or temp dir outlives the test run.
_WATCHDOG = """
import os, shutil, signal, sys, time
data_dir, base_dir = sys.argv[1], sys.argv[2]
sys.stdin.buffer.read()
try:
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        pid = int(f.readline())
except (OSError, ValueError):
    pid = None
if pid is not None:
    for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except OSError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[-1].split()[0] in "ZX":
                        break
            except OSError:
                break
            time.sleep(0.05)
        else:
            continue
        break
shutil.rmtree(base_dir, ignore_errors=True)
"""


def _start_watchdog(server: PostgresServer) -> subprocess.Popen[bytes]:
    # A session of its own, so a Ctrl-C to the test's process group does not kill it first.
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(server.data_dir), str(server.base_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_until_accepting(url: URL, timeout: float) -> None:
    """pg_ctl -w already waits, but only on the socket; make sure TCP logins work too."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(_conninfo(url), connect_timeout=5):
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"PostgreSQL did not accept connections within {timeout:.0f}s: {error}"
                ) from error
            time.sleep(0.1)


def _log_tail(server: PostgresServer, lines: int = 30) -> str:
    try:
        assert server.log_file is not None
        return "\n".join(server.log_file.read_text(errors="replace").splitlines()[-lines:])
    except (OSError, AssertionError):
        return "(no server log)"


def _start_cluster(binaries: PostgresBinaries) -> PostgresServer:
    os_user = _os_user_for_server()
    base = _make_base_dir(os_user)
    server = PostgresServer(
        url="",
        host=HOST,
        port=0,
        user=SUPERUSER,
        admin_url=URL.create(DRIVER, username=SUPERUSER, host=HOST, database="postgres"),
        base_dir=base,
        os_user=os_user,
        binaries=binaries,
    )
    # Both before anything runs, so a failure half-way still cleans up.
    atexit.register(server.stop)
    server.watchdog = _start_watchdog(server)
    try:
        assert server.data_dir is not None and server.log_file is not None
        _run(
            [
                str(binaries.initdb),
                "-D",
                str(server.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            os_user,
            cwd=base,
        )
        # A free port can be taken between our probe and the server's bind: retry a few times.
        for attempt in range(3):
            port = _free_port()
            options = " ".join(
                [
                    f"-c listen_addresses={HOST}",
                    f"-p {port}",
                    f"-k {shlex.quote(str(base))}",  # unix socket in our temp dir
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            result = _run(
                [
                    str(binaries.pg_ctl),
                    "-D",
                    str(server.data_dir),
                    "-o",
                    options,
                    "-l",
                    str(server.log_file),
                    "-w",
                    "-t",
                    str(int(_START_TIMEOUT)),
                    "start",
                ],
                os_user,
                cwd=base,
                check=False,
            )
            if result.returncode == 0:
                break
            if attempt == 2:
                raise PostgresUnavailable(
                    f"pg_ctl start failed (exit code {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}\nserver log:\n{_log_tail(server)}"
                )
        server.port = port
        server.admin_url = server.admin_url.set(port=port)
        _wait_until_accepting(server.admin_url, _START_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    return server


def _external_server(raw_url: str) -> PostgresServer:
    url = make_url(raw_url)
    if url.get_backend_name() != "postgresql":
        raise PostgresUnavailable(f"{ENV_URL} must be a postgresql:// URL, not {url.drivername}://")
    url = url.set(drivername=DRIVER)
    if not url.database:
        url = url.set(database="postgres")
    _wait_until_accepting(url, timeout=10)
    return PostgresServer(
        url="",
        host=url.host or "",
        port=url.port or 5432,
        user=url.username or "",
        admin_url=url,
        external=True,
    )


def start_postgres() -> PostgresServer:
    """Start a throw-away server (or use ``LOCALCAP_TEST_DATABASE_URL``'s) with ``localcap_test``.

    Raises :class:`PostgresUnavailable` (with initdb's/pg_ctl's output and the server log)
    if PostgreSQL is missing or does not start. The server is stopped and its directory
    removed by ``stop()``, by leaving ``with server:``, or at interpreter exit.
    """
    raw_url = os.environ.get(ENV_URL)
    if raw_url:
        server = _external_server(raw_url)
        atexit.register(server.stop)
    else:
        binaries = find_binaries()
        if binaries is None:
            raise PostgresUnavailable(postgres_unavailable_reason() or "PostgreSQL not found")
        server = _start_cluster(binaries)
    try:
        server.url = create_database(server, DATABASE)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """``with running_postgres() as server:`` - :func:`start_postgres`, always stopped."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- databases


def _drop(conn: psycopg.Connection, name: str) -> None:
    # WITH (FORCE) (PostgreSQL 13+) ends leftover sessions, e.g. a pool from a crashed run.
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(server: PostgresServer, name: str) -> str:
    """Create an empty database ``name`` (dropping any old one) and return its SQLAlchemy URL.

    ``TEMPLATE template0`` is a file copy of a tiny template, so this takes milliseconds;
    ``LC_COLLATE 'C'`` keeps text ordering bytewise even on an external server whose default
    locale is not C.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"database name must match {_NAME_RE.pattern}: {name!r}")
    with server.connect(autocommit=True) as conn:
        _drop(conn, name)
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ).format(sql.Identifier(name))
        )
    if name not in server.created:
        server.created.append(name)
    return server.database_url(name)
