"""Rate limits (429) and request size limits (413), with REDCap-style errors."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import requests

from builders import create_project
from liveserver import LiveServer, start_server
from localcap.api.ratelimit import RateLimiter


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


def test_sliding_window():
    limiter = RateLimiter(2)
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
