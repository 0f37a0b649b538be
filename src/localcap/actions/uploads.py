"""Storing an uploaded file's bytes: step 1 of Import File's durability order.

The API's Import File and the survey pages' upload fields store a file the same way: the
bytes go to the file store under a fresh key (with the mime type sniffed from the content on
the way) before any database transaction, and the ``documents`` row is inserted later inside
the caller's transaction. One use case, so the two callers cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Connection
from starlette.datastructures import UploadFile

from localcap.db import documents as docs
from localcap.files import sniff_mime
from localcap.files.mime import HEAD_SIZE

if TYPE_CHECKING:
    from localcap.files.store import FileStore

#: The longest file name kept (longer ones are cut).
MAX_NAME = 255
#: Bytes read per step when streaming an upload into the store.
UPLOAD_CHUNK = 1 << 20


class _UploadReader:
    """Stream an upload into the store in bounded chunks, keeping its head for sniffing."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.head = b""

    def __iter__(self) -> Iterator[bytes]:
        self._file.seek(0)
        while chunk := self._file.read(UPLOAD_CHUNK):
            if len(self.head) < HEAD_SIZE:
                self.head += chunk[: HEAD_SIZE - len(self.head)]
            yield chunk


@dataclass(frozen=True)
class StoredUpload:
    """An upload whose bytes are in the store but not yet in the database."""

    key: str
    size: int
    sha256: str
    name: str
    mime_type: str

    def insert(self, conn: Connection, project_id: int) -> int:
        """The ``documents`` row for these bytes; returns the new doc_id."""
        return docs.insert_document(
            conn,
            project_id,
            store_key=self.key,
            name=self.name,
            mime_type=self.mime_type,
            size=self.size,
            sha256=self.sha256,
        )


def put_upload(store: FileStore, upload: UploadFile) -> StoredUpload:
    """Write an upload's bytes to the store, sniffing its mime type on the way. The caller
    inserts the document and, if its transaction fails, deletes ``key`` again (nothing
    refers to it yet)."""
    reader = _UploadReader(upload.file)
    stored = store.put(reader)
    name = stored_name(upload.filename or "")
    return StoredUpload(stored.key, stored.size, stored.sha256, name, sniff_mime(reader.head, name))


def stored_name(filename: str) -> str:
    """An uploaded file's name as the database keeps it: without control characters (a NUL
    is refused by PostgreSQL, a line break would forge lines where names are shown) and at most
    :data:`MAX_NAME` characters; "file" when nothing is left."""
    kept = "".join(c for c in filename if c.isprintable())
    return kept[:MAX_NAME] or "file"
