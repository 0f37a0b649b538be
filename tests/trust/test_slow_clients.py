"""Slow and greedy HTTP clients against a real ``localcap serve`` on loopback (issue 14 item
10, issue 20 item 9): header and body timeouts, header limits, the connection limit.

The limits are in :mod:`localcap.limits`; the protocol enforcing them is
:mod:`localcap.api.protocol`. These tests wait for the real timeouts (about 35 s in all)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from liveserver import CliServer, start_cli_server
from localcap import limits


def _rss_peak(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[CliServer]:
    server = start_cli_server(tmp_path_factory.mktemp("slow"), "--max-connections", "60")
    try:
        yield server
    finally:
        server.stop()


def _connect(server: CliServer) -> socket.socket:
    port = int(server.url.split(":")[2].split("/")[0])
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """The status line the server sent, or b"" when it closed without one."""
    try:
        return sock.recv(65536).split(b"\r\n")[0]
    except ConnectionResetError:
        return b""


def _version(server: CliServer) -> int:
    return requests.post(
        server.url, data={"token": server.super_token, "content": "version"}, timeout=10
    ).status_code


def test_big_and_many_headers_are_a_431_at_once(served):
    before = _rss_peak(served.process.pid)
    sock = _connect(served)
    sock.sendall(b"GET /surveys/?s=x HTTP/1.1\r\nHost: x\r\n")
    megabyte = b"a" * (1 << 20)
    try:
        for i in range(100):  # 100 MB offered; the server stops reading after 64 KB
            sock.sendall(b"X-H%d: %s\r\n" % (i, megabyte))
    except OSError:
        pass
    assert _answer(sock) == b"HTTP/1.1 431 Request Header Fields Too Large"
    sock.close()
    many = _connect(served)
    many.sendall(
        b"POST /api/ HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(limits.MAX_HEADERS + 1))
        + b"\r\n"
    )
    assert _answer(many) == b"HTTP/1.1 431 Request Header Fields Too Large"
    many.close()
    assert _rss_peak(served.process.pid) - before < 16 << 20
    # a normal request with many ordinary headers is fine
    headers = {f"X-Ok-{i}": "1" for i in range(limits.MAX_HEADERS - 10)}
    response = requests.post(
        served.url,
        data={"token": served.super_token, "content": "version"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200


def test_slow_clients_are_cut_off_and_others_are_served(served):
    """Slowloris: 40 connections dripping a header byte each second, one sending a body's
    first bytes then nothing, one idle after a keep-alive request; a real client is served
    meanwhile, and each slow one is closed by its timeout."""
    drippers = [_connect(served) for _ in range(40)]
    for sock in drippers:
        sock.sendall(b"POST /api/ HTTP/1.1\r\nHost: x\r\n")
    silent_body = _connect(served)
    silent_body.sendall(
        b"POST /api/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1000\r\n\r\ntoken=0"
    )
    never_sent = _connect(served)
    kept_alive = requests.Session()
    assert kept_alive.post(served.url, data={"content": "version"}, timeout=10).status_code == 403
    closed_at: dict[int, float] = {}
    start = time.monotonic()
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set() and len(closed_at) < len(drippers):
            for index, sock in enumerate(drippers):
                if index in closed_at:
                    continue
                try:
                    sock.sendall(b"X")
                except OSError:
                    closed_at[index] = time.monotonic() - start
            time.sleep(1)

    dripping = threading.Thread(target=drip)
    dripping.start()
    try:
        time.sleep(2)
        assert _version(served) == 200  # served while 40 slow clients are connected
        # the never-sending and dripping connections end at HEADER_TIMEOUT (408 if they sent)
        assert _answer(never_sent) == b""
        assert time.monotonic() - start < limits.HEADER_TIMEOUT + 3
        dripping.join(timeout=limits.HEADER_TIMEOUT + 10)
        assert len(closed_at) == len(drippers)
        assert max(closed_at.values()) < limits.HEADER_TIMEOUT + 4, closed_at
        assert _answer(drippers[0]) in (b"HTTP/1.1 408 Request Timeout", b"")
        # the silent body is given up after BODY_IDLE_TIMEOUT
        silent_body.settimeout(limits.BODY_IDLE_TIMEOUT + 10)
        assert _answer(silent_body) in (b"", b"HTTP/1.1 400 Bad Request")
        waited = time.monotonic() - start
        assert limits.BODY_IDLE_TIMEOUT - 1 < waited < limits.BODY_IDLE_TIMEOUT + 5
    finally:
        stop.set()
        dripping.join()
        for sock in [*drippers, silent_body, never_sent]:
            sock.close()
    assert _version(served) == 200


def test_connections_beyond_the_limit_are_closed_at_once(served):
    held = [_connect(served) for _ in range(60)]
    time.sleep(0.5)
    # the server holds at most 60 (--max-connections): the rest were closed without a word
    extra = [_connect(served) for _ in range(10)]
    for sock in extra:
        sock.settimeout(3)
        assert _answer(sock) == b""
        sock.close()
    for sock in held:
        sock.close()
    time.sleep(0.5)
    assert _version(served) == 200
