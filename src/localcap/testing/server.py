"""A localcap server for a test session: started as ``localcap serve`` in its own process on
a free loopback port (data in a temporary directory, removed when it stops), or an already
running one reached by URL and super token.

Everything goes over HTTP with the standard library (:func:`post`), as a client would: the
fresh projects are made through the API and the admin endpoint (``--admin-api``), so a
started server and a remote one behave the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

#: The super user the started server's projects are created by (REDCap's default admin).
SUPER_USER = "site_admin"
START_TIMEOUT = 60.0


class LocalcapError(RuntimeError):
    """The server refused a call (status and REDCap's error message), or did not start."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _multipart(
    params: Mapping[str, Any], files: Mapping[str, tuple[str, bytes]]
) -> tuple[bytes, str]:
    """A multipart/form-data body (what Import File needs) and its content type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in params.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + str(value).encode()
            + b"\r\n"
        )
    for name, (filename, content) in files.items():
        quoted = filename.replace('"', "%22")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post(
    url: str,
    params: Mapping[str, Any],
    files: Mapping[str, tuple[str, bytes]] | None = None,
    timeout: float = 120,
) -> bytes:
    """POST a form to ``url`` and return the body; a non-2xx answer raises
    :class:`LocalcapError` with the server's message (never the token)."""
    if files:
        body, content_type = _multipart(params, files)
    else:
        body = urlencode({k: str(v) for k, v in params.items()}).encode()
        content_type = "application/x-www-form-urlencoded"
    request = Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own server
            return response.read()
    except HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            text = json.loads(text).get("error", text)
        what = f"{params.get('content') or params.get('action')}"
        raise LocalcapError(f"{what}: {error.code} {text}", error.code) from None


def health_url(api_url: str) -> str:
    return api_url.rsplit("/api", 1)[0] + "/health"


def _healthy(api_url: str) -> bool:
    try:
        with urlopen(health_url(api_url), timeout=2) as response:  # noqa: S310
            return response.status == 200
    except (URLError, OSError):
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalcapServer:
    """A running server: ``url`` is its API endpoint, ``super_token`` a super user's token
    (admin endpoint and Create Project). ``process``/``data_dir`` are set when we started it."""

    url: str
    super_token: str
    process: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None
    #: Templates of the projects the session asked for (see ``project.fresh_project``).
    templates: dict[str, Any] = field(default_factory=dict, repr=False)
    _super_user: str | None = field(default=None, repr=False)

    @property
    def super_user(self) -> str:
        """The super token's user: every project made here is theirs."""
        if self._super_user is None:
            self._super_user = str(self.admin("info")["username"])
        return self._super_user

    @property
    def admin_url(self) -> str:
        return self.url.rsplit("/api", 1)[0] + "/admin/"

    def admin(self, action: str, **params: Any) -> Any:
        """Call the admin endpoint (``localcap serve --admin-api``) and return its JSON."""
        body = post(self.admin_url, {"token": self.super_token, "action": action, **params})
        return json.loads(body)

    def api(self, token: str, **params: Any) -> bytes:
        """Call the API with ``token``; lists and dicts in ``data`` are sent as JSON."""
        files = params.pop("files", None)
        if isinstance(params.get("data"), (list, dict)):
            params["data"] = json.dumps(params["data"])
        return post(self.url, {"token": token, **params}, files)

    def stop(self) -> None:
        """Stop the process we started and delete its data; a remote server is left alone."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None


def _mint_super_token(data_dir: Path, database_url: str | None) -> str:
    """Create the database (migrations) and a super token, before the server starts."""
    from localcap.db.engine import open_database
    from localcap.db.projects import ensure_user
    from localcap.db.tokens import create_super_token

    engine = open_database(data_dir, database_url)
    try:
        with engine.begin() as conn:
            ensure_user(conn, SUPER_USER, super_user=True)
            return create_super_token(conn, SUPER_USER)
    finally:
        engine.dispose()


def start_server(database_url: str | None = None, *serve_args: str) -> LocalcapServer:
    """``localcap serve --admin-api`` on a free 127.0.0.1 port, data in a new temporary
    directory (SQLite there unless ``database_url``), once ``/health`` answers 200."""
    data_dir = Path(tempfile.mkdtemp(prefix="localcap-pytest-"))
    try:
        token = _mint_super_token(data_dir, database_url)
        port = free_port()
        command = [sys.executable, "-m", "localcap.cli", "serve", "--data-dir", str(data_dir)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--admin-api", "--rate-limit", "0"]
        if database_url:
            command += ["--database-url", database_url]
        log = (data_dir / "server.log").open("wb")
        env = {**os.environ, "LOCALCAP_INVALID_TOKEN_LIMIT": "0"}
        process = subprocess.Popen(
            [*command, *serve_args], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        server = LocalcapServer(f"http://127.0.0.1:{port}/api/", token, process, data_dir)
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(server.url):
            if process.poll() is not None or time.monotonic() > deadline:
                output = (data_dir / "server.log").read_text(errors="replace")[-2000:]
                server.stop()
                raise LocalcapError(f"localcap serve did not start:\n{output}")
            time.sleep(0.05)
        return server
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise


def connect(url: str, super_token: str) -> LocalcapServer:
    """A server that is already running (started with ``--admin-api``): checks that it is
    healthy and that the token is a super token it accepts there."""
    if not url.rstrip("/").endswith("/api"):
        url = url.rstrip("/") + "/api/"
    url = url.rstrip("/") + "/"
    if not _healthy(url):
        raise LocalcapError(f"No healthy localcap server at {url} ({health_url(url)})")
    server = LocalcapServer(url, super_token)
    try:
        server.admin("info")
    except LocalcapError as error:
        reason = (
            "the super token is not accepted there"
            if error.status == 403
            else "it was not started with --admin-api"
        )
        raise LocalcapError(f"localcap at {url} cannot be used: {reason}", error.status) from None
    return server
