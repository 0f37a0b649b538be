"""The FileStore contract, run against both backends (local disk and S3 over HTTP)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator

import pytest

from localcap.files.store import FileStore, MissingFileError, StoredFile, aopen


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read_all(store: FileStore, key: str, chunk_size: int = 1 << 20) -> bytes:
    return b"".join(store.open(key, chunk_size))


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_round_trip_png_pdf_random(
    store: FileStore, png_bytes: bytes, pdf_bytes: bytes, chunk: int
) -> None:
    for data in (png_bytes, pdf_bytes, os.urandom(100_003)):
        stored = store.put(chunked(data, chunk))
        assert stored == StoredFile(stored.key, len(data), hashlib.sha256(data).hexdigest())
        assert store.exists(stored.key)
        assert read_all(store, stored.key) == data


def test_backends_satisfy_the_protocol(store: FileStore) -> None:
    assert isinstance(store, FileStore)


def test_keys_are_random_hex_and_independent_of_content(store: FileStore) -> None:
    first = store.put([b"same"])
    second = store.put([b"same"])
    assert first.key != second.key
    for key in (first.key, second.key):
        assert len(key) == 32
        assert int(key, 16) >= 0
    assert first.sha256 == second.sha256


def test_open_respects_chunk_size(store: FileStore) -> None:
    data = os.urandom(10_000)
    key = store.put([data]).key
    chunks = list(store.open(key, chunk_size=999))
    assert all(0 < len(c) <= 999 for c in chunks)
    assert b"".join(chunks) == data


def test_empty_file(store: FileStore) -> None:
    stored = store.put([])
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.exists(stored.key)
    assert read_all(store, stored.key) == b""


def test_delete_and_missing(store: FileStore) -> None:
    key = store.put([b"bye"]).key
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(MissingFileError):
        store.open(key)
    store.delete(key)  # deleting again is not an error
    unknown = "0" * 32
    assert not store.exists(unknown)
    with pytest.raises(MissingFileError):
        store.open(unknown)


def test_open_raises_before_iteration(store: FileStore) -> None:
    # The API layer relies on this to answer 400 instead of a broken 200.
    with pytest.raises(MissingFileError):
        store.open("f" * 32)


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 32, "0" * 31, "0" * 32 + "/x"])
def test_malformed_keys_are_rejected(store: FileStore, bad: str) -> None:
    for call in (store.open, store.delete, store.exists):
        with pytest.raises(ValueError):
            call(bad)


def test_iter_keys(store: FileStore) -> None:
    keys = {store.put([os.urandom(10)]).key for _ in range(5)}
    assert set(store.iter_keys()) == keys


class Boom(Exception):
    pass


def failing_stream(good_bytes: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    block = os.urandom(chunk)
    sent = 0
    while sent < good_bytes:
        yield block
        sent += chunk
    raise Boom("client went away mid-upload")


@pytest.mark.parametrize("good_bytes", [0, 3 << 20, 20 << 20])
def test_failed_put_leaves_nothing(store: FileStore, good_bytes: int) -> None:
    before = set(store.iter_keys())
    with pytest.raises(Boom):
        store.put(failing_stream(good_bytes))
    assert set(store.iter_keys()) == before


def test_aopen_streams_without_blocking_the_loop(store: FileStore) -> None:
    data = os.urandom(3 << 20)
    key = store.put([data]).key

    async def main() -> bytes:
        body = await aopen(store, key, chunk_size=1 << 18)
        return b"".join([chunk async for chunk in body])

    assert asyncio.run(main()) == data


def test_aopen_missing_raises_on_await(store: FileStore) -> None:
    async def main() -> None:
        await aopen(store, "e" * 32)

    with pytest.raises(MissingFileError):
        asyncio.run(main())


class SlowStore:
    """A store whose reads block (like a slow disk or S3): only open() is needed here."""

    closed = False

    def open(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        time.sleep(0.05)  # blocking open
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            for _ in range(5):
                time.sleep(0.05)  # blocking read
                yield b"x"
        finally:
            SlowStore.closed = True


def test_aopen_keeps_the_event_loop_free() -> None:
    async def main() -> tuple[bytes, int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        body = await aopen(SlowStore(), "0" * 32)  # type: ignore[arg-type]
        data = b"".join([chunk async for chunk in body])
        done.set()
        await task
        return data, ticks

    data, ticks = asyncio.run(main())
    assert data == b"xxxxx"
    # 0.3 s of blocking I/O happened in threads; a blocked loop would have ticked ~once.
    assert ticks > 20


def test_aopen_closes_the_reader_when_abandoned() -> None:
    SlowStore.closed = False

    async def main() -> None:
        body = await aopen(SlowStore(), "0" * 32)  # type: ignore[arg-type]
        async for _chunk in body:
            break  # client disconnected after the first chunk
        await body.aclose()

    asyncio.run(main())
    assert SlowStore.closed
