"""Fixtures for the file-store tests: sample files, a local store, and S3 on a real HTTP server.

S3 runs against moto's standalone server in a *separate process* on loopback (not moto's
in-process mock): requests go through botocore's real HTTP stack, ``AWS_ENDPOINT_URL`` is
exercised the way operators will use it, and the server's memory does not pollute the
flat-memory measurements of the client.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcap.files.local import LocalFileStore
from localcap.files.store import FileStore, open_store


def make_png(width: int = 3, height: int = 2) -> bytes:
    """A valid PNG (signature, IHDR, IDAT, IEND with correct CRCs), built without Pillow."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_pdf() -> bytes:
    """A small well-formed PDF with one empty page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def png_bytes() -> bytes:
    return make_png()


@pytest.fixture
def pdf_bytes() -> bytes:
    return make_pdf()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files")


# --- S3 on moto's standalone server -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Start ``python -m moto.server`` on a free loopback port for the whole session."""
    for _attempt in range(3):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        if process.poll() is None:
            break
    else:  # pragma: no cover - only if ports keep getting stolen
        pytest.fail("could not start moto.server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point boto3 at moto through the standard environment variables only."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # No developer's ~/.aws may leak into the tests.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return moto_endpoint


@pytest.fixture
def s3_client(aws_env: str):  # noqa: ANN201 - botocore clients have no static type
    import boto3

    return boto3.client("s3")


@pytest.fixture
def bucket(s3_client) -> str:  # noqa: ANN001
    """A fresh bucket per test; created by the test, never by the store."""
    name = f"localcap-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(bucket: str, tmp_path: Path) -> FileStore:
    return open_store(f"s3://{bucket}/study/files", tmp_path)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> FileStore:
    """Every contract test runs on both backends."""
    return request.getfixturevalue(f"{request.param}_store")


# --- memory measurement -------------------------------------------------------------------


def rss_bytes() -> int:
    """Current resident set size, from /proc (no psutil dependency)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakRss:
    """Sample RSS every few milliseconds in a thread; ``growth`` is peak minus baseline.

    Sampling (rather than VmHWM) measures only the code under test, whatever ran before.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self.baseline = self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@pytest.fixture
def peak_rss() -> type[PeakRss]:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read RSS")
    return PeakRss
