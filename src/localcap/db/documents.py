"""Uploaded documents: the ``documents`` table, and the locked read-modify-write of a file field.

A file field's stored value is the ``doc_id`` (as a string) of a row here; the row holds the
store key, the uploader's original file name, the sniffed mime type, size and SHA-256. The
bytes live in the file store (``localcap.files``), never in the database.

Durability order, which every caller follows: bytes are written to the store first, then the
database change is committed, and only after the commit are replaced bytes deleted. A crash at
any point then leaves at worst an unreferenced file in the store (harmless, and visible to a
garbage collection), never a field pointing at bytes that are gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from localcap.db import schema as t
from localcap.db.records import read_row


@dataclass(frozen=True)
class Document:
    """One stored upload, as the database describes it."""

    doc_id: int
    project_id: int
    store_key: str
    name: str
    mime_type: str
    size: int
    sha256: str


def _document(row: Any) -> Document:
    return Document(
        row.doc_id, row.project_id, row.store_key, row.name, row.mime_type, row.size, row.sha256
    )


def insert_document(
    conn: Connection,
    project_id: int,
    *,
    store_key: str,
    name: str,
    mime_type: str,
    size: int,
    sha256: str,
) -> int:
    """Record an upload whose bytes are already in the store; returns the new doc_id."""
    result = conn.execute(
        insert(t.documents)
        .values(
            project_id=project_id,
            store_key=store_key,
            name=name,
            mime_type=mime_type,
            size=size,
            sha256=sha256,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        .returning(t.documents.c.doc_id)
    )
    return int(result.scalar_one())


def get_document(conn: Connection, project_id: int, doc_id: str | int) -> Document | None:
    """The document a field value points at; None for a value that is not one of ours.

    The project id is part of the lookup so a value copied from another project (or forged)
    can never reach that project's files.
    """
    try:
        number = int(str(doc_id).strip())
    except ValueError:
        return None
    row = conn.execute(
        select(t.documents).where(
            t.documents.c.project_id == project_id, t.documents.c.doc_id == number
        )
    ).first()
    return _document(row) if row is not None else None


def project_documents(conn: Connection, project_id: int) -> dict[str, Document]:
    """Every document of the project by doc_id (as a field value holds it): what Export
    Project XML embeds for file fields."""
    rows = conn.execute(select(t.documents).where(t.documents.c.project_id == project_id))
    return {str(row.doc_id): _document(row) for row in rows}


def document_names(conn: Connection, project_id: int) -> dict[str, str]:
    """doc_id -> the uploader's file name, for every document of the project (what Export
    Records and Export PDF show in file fields)."""
    rows = conn.execute(
        select(t.documents.c.doc_id, t.documents.c.name).where(
            t.documents.c.project_id == project_id
        )
    )
    return {str(row.doc_id): row.name for row in rows}


def delete_document(conn: Connection, project_id: int, doc_id: str | int) -> Document | None:
    """Remove a document row (the caller deletes the bytes after committing)."""
    document = get_document(conn, project_id, doc_id)
    if document is not None:
        conn.execute(delete(t.documents).where(t.documents.c.doc_id == document.doc_id))
    return document


def lock_record(conn: Connection, project_id: int, record: str) -> bool:
    """Take the write lock for a read-modify-write of one record; False if it does not exist.

    A no-op UPDATE rather than ``SELECT ... FOR UPDATE`` because it locks on both backends:
    on PostgreSQL it row-locks the record, on SQLite it is the transaction's first write, so
    the database write lock is held *before* the row is read (a plain read first would let
    two concurrent uploads both replace the same old file and orphan one new document).
    """
    result = conn.execute(
        update(t.records)
        .where(t.records.c.project_id == project_id, t.records.c.record == record)
        .values(group_id=t.records.c.group_id)
    )
    return bool(result.rowcount)


@dataclass
class DataRow:
    """One stored record-data row addressed by its full key, with its values."""

    exists: bool
    data: dict[str, Any]


def read_data_row(
    conn: Connection,
    project_id: int,
    record: str,
    event_id: int,
    repeat_instrument: str,
    instance: int,
) -> DataRow:
    """The values stored for one (record, event, repeat instrument, instance), if any."""
    row = conn.execute(
        select(t.record_data.c.data).where(
            t.record_data.c.project_id == project_id,
            t.record_data.c.record == record,
            t.record_data.c.event_id == event_id,
            t.record_data.c.repeat_instrument == repeat_instrument,
            t.record_data.c.instance == instance,
        )
    ).first()
    if row is None:
        return DataRow(False, {})
    key = (record, event_id, repeat_instrument, instance)
    return DataRow(True, read_row(conn, project_id, key, row.data).data)


def iter_expected_files(conn: Connection) -> Iterator[tuple[str, int, str]]:
    """``(store_key, size, sha256)`` of every document, for ``localcap files verify``: file
    fields' uploads and File Repository files alike (those in its Recycle Bin too, whose bytes
    are kept), since both are rows of ``documents``."""
    query = select(t.documents.c.store_key, t.documents.c.size, t.documents.c.sha256).order_by(
        t.documents.c.doc_id
    )
    for row in conn.execute(query):
        yield row.store_key, int(row.size), row.sha256


def count_documents(conn: Connection) -> int:
    """How many documents the database knows (the length of the verify progress bar)."""
    return int(conn.execute(select(func.count()).select_from(t.documents)).scalar_one())
