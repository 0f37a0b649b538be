"""The file-store contract shared by every backend, and how a backend is chosen.

Why a tiny interface: the API layer only ever needs "keep these bytes, give me a key" and "give
the bytes back for this key", streamed both ways so that a 5 GB upload never sits in memory.
Everything else (original file name, mime type, which record/field owns the file) lives in the
database next to the key, so a backend never sees user-controlled names: keys are random
(:func:`new_key`), which rules out path traversal and name collisions by construction.

Contract (both :class:`~localcap.files.local.LocalFileStore` and
:class:`~localcap.files.s3.S3FileStore` honour it, ``tests/files`` checks it):

* ``put(chunks)`` consumes an iterable of ``bytes`` once, computing size and SHA-256 on the way,
  and returns a :class:`StoredFile`. It is atomic: nothing is visible under the key (``exists``,
  ``open``, ``iter_keys``) until the whole stream has been written; if the iterable raises, the
  exception propagates and nothing is left behind under any key.
* ``open(key)`` checks the key eagerly (so a missing file raises :class:`MissingFileError`
  *before* an HTTP response has started) and returns an iterator of chunks of at most
  ``chunk_size`` bytes; memory stays flat whatever the file size. The iterator has a
  ``close()`` method: call it (or exhaust the iterator) to release the file handle/connection.
* ``delete(key)`` of a missing key is not an error (deleting is idempotent; REDCap's "delete
  file" has already checked that the record had a file).
* ``exists(key)`` and ``iter_keys()`` exist for verification and garbage collection.

A malformed key (anything but 32 lowercase hex digits) raises ``ValueError`` everywhere: keys
only ever come from ``put()``, so a malformed one means the database was tampered with, and we
never build a path or object name from it.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import anyio.to_thread

#: Default read size: big enough that per-chunk overhead (a thread hop in :func:`aopen`, a
#: ``send`` to the socket) is negligible, small enough to keep memory per download flat.
DEFAULT_CHUNK_SIZE = 1 << 20

_KEY_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class StoredFile:
    """What ``put()`` returns and the database keeps: the key plus what ``verify`` rechecks."""

    key: str
    size: int
    #: Lowercase hex SHA-256 of the content, computed while streaming.
    sha256: str


class MissingFileError(LookupError):
    """No file is stored under this key (deleted, or the store was not restored with the DB)."""


class StoreConfigError(RuntimeError):
    """The configured store cannot be used (bad URL, missing bucket...): an operator problem."""


@runtime_checkable
class FileStore(Protocol):
    """Where uploaded file contents live; see the module docstring for the exact contract."""

    def put(self, chunks: Iterable[bytes]) -> StoredFile:
        """Store a stream atomically under a new random key and return key, size and hash."""
        ...

    def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Return the content as chunks; raise :class:`MissingFileError` at once if absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file; a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool:
        """Whether a complete file is stored under ``key``."""
        ...

    def iter_keys(self) -> Iterator[str]:
        """Every stored key (no temporary or foreign objects), in no particular order."""
        ...


def new_key() -> str:
    """A fresh random key: 128 bits from uuid4, so collisions need not be checked."""
    return uuid.uuid4().hex


def check_key(key: str) -> str:
    """Return ``key`` if it is one a store could have generated, else raise ``ValueError``."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise ValueError(f"not a file-store key: {key!r}")
    return key


def is_key(name: str) -> bool:
    """Whether ``name`` looks like a key (used to skip temporary and foreign files in listings)."""
    return bool(_KEY_RE.fullmatch(name))


def open_store(url: str | None, data_dir: Path) -> FileStore:
    """Build the store named by the ``file store URL`` setting.

    * ``None`` or ``""``: local disk under ``<data_dir>/files/`` (the default: one directory to
      back up).
    * ``file:///absolute/path``: local disk rooted exactly at that path.
    * ``s3://bucket`` or ``s3://bucket/prefix``: S3 or any S3-compatible server. Endpoint,
      region and credentials come from boto3's usual sources (``AWS_ENDPOINT_URL``,
      ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles...).
      The bucket is checked now, so a typo fails at start-up rather than on the first upload;
      nothing is created implicitly.
    """
    if not url:
        from localcap.files.local import LocalFileStore

        return LocalFileStore(Path(data_dir) / "files")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreConfigError(f"file store URL {url!r}: use file:///absolute/path")
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            raise StoreConfigError(f"file store URL {url!r}: the path must be absolute")
        from localcap.files.local import LocalFileStore

        return LocalFileStore(path)
    if scheme == "s3":
        if not parts.netloc:
            raise StoreConfigError(f"file store URL {url!r}: expected s3://bucket[/prefix]")
        from localcap.files.s3 import S3FileStore

        store = S3FileStore.from_environment(parts.netloc, unquote(parts.path))
        store.check_bucket()
        return store
    raise StoreConfigError(
        f"unsupported file store URL {url!r}: use file:///path or s3://bucket/prefix"
    )


async def aopen(
    store: FileStore, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> AsyncGenerator[bytes, None]:
    """Open ``key`` for an ASGI response without blocking the event loop.

    Usage in a Starlette handler::

        body = await aopen(store, key)          # MissingFileError raised here, before headers
        return StreamingResponse(body, headers={"Content-Type": content_type_header(...)})

    Why this shape: both the open (a disk ``open()`` or an S3 ``GetObject`` round-trip) and
    each read are blocking calls, so each runs in anyio's worker threads; the open is awaited
    up front so that a missing file becomes an API error instead of a broken 200 response. The
    returned async generator closes the underlying file/connection when it finishes or is
    closed (Starlette closes it when the client disconnects).
    """
    iterator = await anyio.to_thread.run_sync(functools.partial(store.open, key, chunk_size))
    return _drain_in_threads(iterator)


_DONE = object()


async def _drain_in_threads(iterator: Iterator[bytes]) -> AsyncGenerator[bytes, None]:
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, _DONE)
            if chunk is _DONE:
                return
            yield chunk  # type: ignore[misc]
    finally:
        # Closing a file or an HTTP body does not block noticeably, and awaiting inside a
        # finally of a cancelled generator is not allowed, so close inline.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


class ChunkReader(Iterator[bytes]):
    """Iterate a readable (file object, botocore ``StreamingBody``) in bounded chunks.

    A class rather than a generator so that ``close()`` releases the handle even when iteration
    never started, and so that an early ``close()`` from :func:`aopen` is deterministic.
    """

    def __init__(self, readable: object, chunk_size: int) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._readable = readable
        self._chunk_size = chunk_size
        self._closed = False

    def __iter__(self) -> ChunkReader:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        chunk = self._readable.read(self._chunk_size)  # type: ignore[attr-defined]
        if not chunk:
            self.close()
            raise StopIteration
        return bytes(chunk)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._readable.close()  # type: ignore[attr-defined]

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
