"""Running localcap as a service (issue 18): migrations run once by `localcap db upgrade`,
structured access logs without tokens, graceful shutdown of streaming exports."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import select

from builders import Api, create_project
from liveserver import CliServer, free_port, new_super_token
from localcap.db import schema as t
from localcap.db.engine import open_database

LOCALCAP = str(Path(sys.executable).with_name("localcap"))


def _serve(
    data_dir: Path, port: int, *options: str, output: Path | None = None
) -> subprocess.Popen:
    """`localcap serve` (not waited for); its standard output to ``output``."""
    command = [LOCALCAP, "serve", "--data-dir", str(data_dir), "--port", str(port), *options]
    out = output.open("wb") if output else subprocess.DEVNULL
    return subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)


def _wait(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.post(f"http://127.0.0.1:{port}/api/", data={}, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"server did not start: {process.stderr.read() if process.stderr else ''}")


def test_the_schema_is_upgraded_once_by_db_upgrade(tmp_path):
    """`serve --no-migrate` refuses a database that is not up to date (several servers on one
    database must not race to migrate it) and says what to do; `localcap db upgrade` does it."""
    port = free_port()
    refused = _serve(tmp_path, port, "--no-migrate")
    _, err = refused.communicate(timeout=60)
    assert refused.returncode != 0
    assert b"Run `localcap db upgrade` once" in err
    upgraded = subprocess.run(
        [LOCALCAP, "db", "upgrade", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "The database schema is at revision" in upgraded.stdout
    server = _serve(tmp_path, port, "--no-migrate")
    try:
        _wait(port, server)
        answer = requests.post(f"http://127.0.0.1:{port}/api/", data={"token": "0" * 32})
        assert answer.status_code == 403
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_access_log_is_json_lines_without_tokens(tmp_path):
    token = new_super_token(tmp_path)
    port = free_port()
    log = tmp_path / "access.log"
    process = _serve(tmp_path, port, "--rate-limit", "0", output=log)
    try:
        _wait(port, process)
        server = CliServer(f"http://127.0.0.1:{port}/api/", tmp_path, token, process)
        api = create_project(server)
        api.ok(content="project", format="json")
        base = f"http://127.0.0.1:{port}"
        # tokens where a careless client might put them: the query string and the path
        requests.post(f"{base}/api/?token={api.token}", data={"content": "version"})
        requests.post(f"{base}/api/{api.token}", data={"token": api.token})
        requests.get(f"{base}/surveys/?s=ABCDEFGHIJ")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    text = log.read_text()
    assert api.token not in text and api.token.lower() not in text and token not in text
    assert "ABCDEFGHIJ" not in text  # a survey link's hash is in the query: never logged
    paths = [(line["method"], line["path"], line["status"]) for line in lines]
    assert ("POST", "/api/", 200) in paths
    assert ("GET", "/surveys/", 404) in paths or ("GET", "/surveys/", 200) in paths
    assert any(path.startswith("/api/") and "[redacted]" in path for _, path, _ in paths)
    for line in lines:
        assert set(line) == {
            "ts",
            "client",
            "method",
            "path",
            "status",
            "bytes_in",
            "bytes_out",
            "outcome",
            "ms",
            "pid",
        }
        assert line["client"] == "127.0.0.1" and line["outcome"] == "complete"


def _big_project(server: CliServer, records: int) -> Api:
    api = create_project(server)
    fields = [
        {"field_name": name, "form_name": "form", "field_type": "text", "field_label": name}
        for name in ["record_id", *(f"f{n}" for n in range(12))]
    ]
    assert api.import_json("metadata", fields) == len(fields)
    for start in range(1, records, 5000):
        rows = [
            {"record_id": str(n), **{f"f{i}": f"{n:06d}-{'x' * 40}" for i in range(12)}}
            for n in range(start, min(start + 5000, records + 1))
        ]
        api.import_json("record", rows)
    return api


def _export_request(port: int, token: str) -> socket.socket:
    """A raw Export Records request (JSON, every record) whose answer the caller reads at
    its own pace; a small receive buffer, so that a client that stops reading stops the
    server soon."""
    body = f"token={token}&content=record&format=json".encode()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"POST /api/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
        b"application/x-www-form-urlencoded\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(1 << 16):
        chunks.append(data)
    return b"".join(chunks)


def test_graceful_shutdown_finishes_or_cleanly_cuts_streaming_exports(tmp_path):
    """SIGTERM: an export the client keeps reading finishes within the grace period; one
    whose client stalls is cut when it ends: the chunked body stops without its final
    chunk (a client can tell it is incomplete), the audit log says it was cut (499), and the
    process exits."""
    token = new_super_token(tmp_path)
    port = free_port()
    log = tmp_path / "access.log"
    process = _serve(tmp_path, port, "--rate-limit", "0", "--graceful-timeout", "3", output=log)
    try:
        _wait(port, process)
        api = _big_project(
            CliServer(f"http://127.0.0.1:{port}/api/", tmp_path, token, process), 8000
        )
        reading = _export_request(port, api.token)
        stalled = _export_request(port, api.token)
        first = reading.recv(1 << 16)
        stalled.recv(1024)  # the answer has started; then this client reads no more
        assert first.startswith(b"HTTP/1.1 200")
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        complete = first + _read_all(reading)
        process.wait(timeout=30)
        stopped = time.monotonic() - sent
        rest = _read_all(stalled)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert complete.endswith(b"\r\n0\r\n\r\n")  # the final chunk: the export is whole
    head, _, chunked = complete.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert not rest.endswith(b"\r\n0\r\n\r\n")  # cut: no final chunk
    assert stopped < 3 + 10, stopped
    engine = open_database(tmp_path)
    with engine.connect() as conn:
        statuses = sorted(
            r.status
            for r in conn.execute(
                select(t.audit_log.c.status).where(
                    t.audit_log.c.content == "record", t.audit_log.c.action == "export"
                )
            )
        )
    engine.dispose()
    assert statuses == [200, 499], statuses
    outcomes = sorted(
        json.loads(line)["outcome"]
        for line in log.read_text().splitlines()
        if line.startswith("{") and json.loads(line)["bytes_out"] > 1_000_000
    )
    assert outcomes == ["complete", "cut"], outcomes
