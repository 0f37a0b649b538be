"""Storing an uploaded file: bytes first, database second (Import File, the File Repository's
import, the survey pages' file fields).

Nothing is lost on a crash: new bytes are written to the store before the database change is
committed (:func:`put_upload`, then :meth:`StoredUpload.insert` in the caller's transaction),
and bytes the failed transaction would have referred to are deleted again
(:func:`localcap.api.methods.common.dropped_on_failure`); see :mod:`localcap.db.documents`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Connection

from localcap.db import documents as docs
from localcap.files import sniff_mime
from localcap.files.mime import HEAD_SIZE

if TYPE_CHECKING:
    from starlette.datastructures import UploadFile

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
    """Write an upload's bytes to the store (step 1 of the durability order), sniffing its
    mime type from the content on the way. The caller inserts the document and, if its
    transaction fails, deletes ``key`` again (nothing refers to it yet)."""
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
