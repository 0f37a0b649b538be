"""Files inside the clinical data (``ItemDataBase64Binary``): decoded as they stream past.

A file can be far larger than memory allows as text, so its base64 arrives in pieces, is
decoded into a spooled temporary file and handed to the file store in chunks; the document
row is written in the caller's transaction, and the store key is recorded first so that a
failed import can delete the bytes again.
"""

from __future__ import annotations

import base64
import re
import tempfile
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Connection

from localcap.db import documents as docs
from localcap.files import sniff_mime
from localcap.files.mime import HEAD_SIZE
from localcap.files.store import FileStore

READ_CHUNK = 1 << 20


class FileSink:
    """Base64 text arriving in pieces -> decoded bytes in a spooled temporary file."""

    SPOOL = 8 << 20

    def __init__(self, field_name: str, name: str) -> None:
        self.field = field_name
        self.name = name
        self.buffer: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=self.SPOOL)  # noqa: SIM115 - closed by chunks()
        self.rest = ""
        self.head = b""

    def write(self, text: str) -> None:
        text = self.rest + re.sub(r"\s+", "", text)
        cut = len(text) - len(text) % 4
        self.rest = text[cut:]
        if cut:
            self._out(base64.b64decode(text[:cut], validate=True))

    def _out(self, data: bytes) -> None:
        if len(self.head) < HEAD_SIZE:
            self.head += data[: HEAD_SIZE - len(self.head)]
        self.buffer.write(data)

    def chunks(self) -> Iterator[bytes]:
        if self.rest:
            self._out(base64.b64decode(self.rest + "=" * (-len(self.rest) % 4), validate=True))
            self.rest = ""
        self.buffer.seek(0)
        try:
            while chunk := self.buffer.read(READ_CHUNK):
                yield chunk
        finally:
            self.buffer.close()


def store_document(
    conn: Connection, file_store: FileStore, project_id: int, sink: FileSink, keys: list[str]
) -> int:
    """Store the sink's bytes and their document row; the store key is appended to ``keys``
    as soon as the bytes are written. Raises :class:`binascii.Error` for bad base64."""
    stored = file_store.put(sink.chunks())
    keys.append(stored.key)
    name = sink.name or "file"
    return docs.insert_document(
        conn,
        project_id,
        store_key=stored.key,
        name=name,
        mime_type=sniff_mime(sink.head, name),
        size=stored.size,
        sha256=stored.sha256,
    )
