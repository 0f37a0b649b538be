"""Hostile clients against a real ``localcap serve``: what they cost the server.

Usage::

    .venv/bin/python benchmarks/hostile_limits.py [--body-mb 200] [--headers 600]
        [--slow 1500] [--only body,headers,slow]

Each scenario starts a fresh ``localcap serve`` (SQLite, temporary data directory, loopback)
and reads its peak RSS (VmHWM) and RSS (VmRSS) from /proc before and after:

* ``body``: a ``--body-mb`` urlencoded body with a wrong token (``token=0000`` first, as every
  client sends it, then a second time with the token last), streamed in 1 MiB chunks.
* ``headers``: ``--headers`` request headers of 1 MiB each to ``/surveys/``.
* ``slow``: ``--slow`` connections that send one header byte every 5 s (slowloris), then a
  real API call: is it answered, and how long the slow connections stay open.

Issue 14 items 8 and 10, issue 20 item 9; the figures go to RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import http.client
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1 << 20


def _status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            key, value = line.split(":")
            values[key] = int(value.split()[0]) * 1024
    return values


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, *options: str) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("localcap")),
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.call(b"content=version")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def call(self, body: bytes, timeout: float = 10) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(
                "POST",
                "/api/",
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            return conn.getresponse().status
        finally:
            conn.close()

    def memory(self) -> str:
        m = _status(self.process.pid)
        return f"peak {m['VmHWM'] / MB:.0f} MB, now {m['VmRSS'] / MB:.0f} MB"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            print("  (SIGTERM did not stop the server within 15 s: killed)")


def big_body(server: Server, size_mb: int, token_first: bool) -> None:
    def chunks():
        if token_first:
            yield b"token=" + b"0" * 32 + b"&content=record&format=json&data="
        else:
            yield b"content=record&format=json&data="
        for _ in range(size_mb):
            yield b"x" * MB
        if not token_first:
            yield b"&token=" + b"0" * 32

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    start = time.monotonic()
    try:
        conn.request(
            "POST",
            "/api/",
            body=chunks(),
            encode_chunked=True,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        status: object = conn.getresponse().status
    except OSError as exc:
        status = type(exc).__name__
    conn.close()
    where = "first" if token_first else "last"
    print(
        f"  {size_mb} MB body, wrong token {where}: {status} in "
        f"{time.monotonic() - start:.1f} s; server {server.memory()}"
    )


def many_headers(server: Server, count: int) -> None:
    start = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(60)
    status = "no answer"
    try:
        sock.sendall(b"GET /surveys/?s=x HTTP/1.1\r\nHost: x\r\n")
        value = b"a" * MB
        for i in range(count):
            sock.sendall(b"X-H%d: " % i + value + b"\r\n")
        sock.sendall(b"\r\n")
        status = sock.recv(100).split(b"\r\n")[0].decode() or "closed"
    except OSError as exc:
        try:
            status = sock.recv(100).split(b"\r\n")[0].decode() or type(exc).__name__
        except OSError:
            status = type(exc).__name__
    sock.close()
    print(
        f"  {count} x 1 MB headers: {status!r} after {time.monotonic() - start:.1f} s; "
        f"server {server.memory()}"
    )


def slowloris(server: Server, count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"POST /api/ HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    print(f"  {len(socks)} slow connections open")
    start = time.monotonic()
    answered = None
    try:
        answered = server.call(b"content=version&token=" + b"0" * 32, timeout=20)
    except OSError as exc:
        answered = type(exc).__name__
    print(f"  a real call meanwhile: {answered} in {time.monotonic() - start:.1f} s")
    open_after = len(socks)
    for tick in range(8):
        time.sleep(5)
        alive = []
        for s in socks:
            try:
                s.sendall(b"X")
                alive.append(s)
            except OSError:
                s.close()
        socks = alive
        open_after = len(socks)
        print(f"  after {5 * (tick + 1)} s: {open_after} slow connections still open")
        if not socks:
            break
    for s in socks:
        s.close()
    print(f"  server {server.memory()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body-mb", type=int, default=200)
    parser.add_argument("--headers", type=int, default=600)
    parser.add_argument("--slow", type=int, default=1500)
    parser.add_argument("--only", default="body,headers,slow")
    parser.add_argument("serve_options", nargs="*", help="extra `localcap serve` options")
    args = parser.parse_args()
    only = set(args.only.split(","))
    for name, run in [
        ("body", lambda s: (big_body(s, args.body_mb, True), big_body(s, args.body_mb, False))),
        ("headers", lambda s: many_headers(s, args.headers)),
        ("slow", lambda s: slowloris(s, args.slow)),
    ]:
        if name not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(Path(tmp), "--max-request-mb", "4096", *args.serve_options)
            print(f"{name}: server started, {server.memory()}")
            try:
                run(server)
            finally:
                start = time.monotonic()
                server.stop()
                print(f"  stopped in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
