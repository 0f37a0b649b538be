"""Rate limits (429) and request size limits (413), with REDCap-style errors."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from builders import clinical_classic, create_project
from liveserver import LiveServer, start_cli_server, start_server
from localcap.api.errors import NO_PERMISSION
from localcap.db.engine import open_database
from localcap.ratelimit import RateLimiter


@pytest.fixture
def limited(tmp_path) -> Iterator[LiveServer]:
    server = start_server(tmp_path, None, "sqlite", rate_limit=5, max_request_mb=1)
    try:
        yield server
    finally:
        server.stop()


def test_rate_limit_per_user(limited):
    api = create_project(limited)
    statuses = [api.call(content="version", returnFormat="json").status_code for _ in range(5)]
    # The limit is per user: creating the project was admin's first call of the minute.
    assert statuses == [200, 200, 200, 200, 429]
    refused = api.call(content="arm", returnFormat="json")
    assert refused.status_code == 429
    assert "maximum number of API requests per minute (5)" in refused.json()["error"]


def test_sliding_window(tmp_path):
    limiter = RateLimiter(open_database(tmp_path), 2, "test")
    assert limiter.allow("u", 0.0) and limiter.allow("u", 1.0)
    assert not limiter.allow("u", 59.0)
    assert limiter.allow("other", 59.0)
    assert limiter.allow("u", 60.5)


def test_body_over_the_limit_is_413(limited):
    big = "x" * (2 << 20)
    response = requests.post(
        limited.url, data={"token": "A" * 32, "content": "record", "data": big}, timeout=30
    )
    assert response.status_code == 413
    assert "<error>" in response.text and "larger than this server accepts" in response.text


def test_chunked_body_over_the_limit_is_413(limited):
    url = urlparse(limited.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def body():
        yield b"token=" + b"A" * 32 + b"&content=record&data="
        for _ in range(40):
            yield b"y" * 65536

    conn.request(
        "POST",
        url.path,
        body=body(),
        encode_chunked=True,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    assert response.status == 413


def _memory(pid: int) -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            key, value = line.split(":")
            values[key] = int(value.split()[0]) * 1024
    return values


def _stream(url: str, chunks: Iterator[bytes], content_type: str) -> http.client.HTTPResponse:
    target = urlparse(url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
    conn.request(
        "POST",
        target.path,
        body=chunks,
        encode_chunked=True,
        headers={"Content-Type": content_type},
    )
    return conn.getresponse()


def test_a_big_body_with_a_wrong_token_costs_no_memory(tmp_path):
    """Issue 14 item 8: 64 MB with a wrong token used to be parsed in full (about three times
    its size in memory) before the token was looked at."""
    server = start_cli_server(tmp_path, "--max-request-mb", "4096")
    try:
        before = _memory(server.process.pid)
        for token_first in (True, False):

            def body(token_first: bool = token_first) -> Iterator[bytes]:
                head = b"content=record&format=json&returnFormat=json&data="
                yield (b"token=" + b"0" * 32 + b"&" + head) if token_first else head
                for _ in range(64):
                    yield b"x" * (1 << 20)
                if not token_first:
                    yield b"&token=" + b"0" * 32

            response = _stream(server.url, body(), "application/x-www-form-urlencoded")
            assert response.status == 403
            assert json.loads(response.read()) == {"error": NO_PERMISSION}
        after = _memory(server.process.pid)
        assert after["VmHWM"] - before["VmHWM"] < 24 << 20, (before, after)
    finally:
        server.stop()


def test_big_imports_with_a_valid_token_in_any_position(server):
    """A body over the in-memory size is spooled to disk and its token read first: wherever
    the token is (first, last, in a multipart part after the data), the import works."""
    api = clinical_classic(server)
    rows = "record_id,notes\n" + "".join(f"{i},{'n' * 1000}\n" for i in range(1, 2001))
    assert len(rows) > 1 << 20  # over SPOOL_IN_MEMORY
    fields = [("content", "record"), ("format", "csv"), ("data", rows)]
    last = requests.post(server.url, data=[*fields, ("token", api.token)], timeout=60)
    assert last.status_code == 200, last.text
    first = requests.post(server.url, data=[("token", api.token), *fields], timeout=60)
    assert first.status_code == 200, first.text
    parts = [(name, (None, value)) for name, value in [*fields, ("token", api.token)]]
    multipart = requests.post(server.url, files=parts, timeout=60)
    assert multipart.status_code == 200, multipart.text
    wrong = [(name, (None, value)) for name, value in [("token", "0" * 32), *fields]]
    refused = requests.post(server.url, files=[*wrong, ("returnFormat", (None, "json"))])
    assert refused.status_code == 403
    assert api.json(content="record", records="2000", fields="notes") == [{"notes": "n" * 1000}]
