"""Export / Import / Delete File (``content=file``): the bytes behind file-upload fields.

A file field's stored value is a ``doc_id`` (see :mod:`localcap.db.documents`); the bytes live
in the configured file store. What REDCap clients rely on, and why this module looks the way
it does (docs/REDCAP_API.md, "Export File", gives the evidence):

* Errors come in REDCap's order and words: event (longitudinal only), record, field, then "no
  file". A record in another Data Access Group is reported exactly like a missing one, so a
  DAG-restricted user cannot even learn that it exists.
* Export streams the stored bytes with ``Content-Type: <mime>; name="<name>"`` (plus
  ``;charset=UTF-8`` for ``text/*``): PyCap, redcaplite, REDCapR and redcapAPI all take the
  file name from there, and REDCapR scans *every* header for ``name=``, so no other header
  carries one (the download's ``Content-Disposition: attachment`` has no ``filename=``). The
  name is made safe for a header and a file system by
  :func:`localcap.files.content_type_header`; the original stays in the database.
* Import and delete answer 200 with an empty body: PyCap's ``import_file``/``delete_file``
  ignore the body (they return ``[{}]`` whatever comes back) and REDCapR checks the status.
* Nothing is lost on a crash: new bytes are written to the store before the database change
  is committed, and replaced bytes are deleted only after the commit (see
  :mod:`localcap.db.documents`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import Connection
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from localcap.api.context import ApiContext
from localcap.api.errors import NO_ACCESS_EXPORT, ApiError, error_format
from localcap.api.methods.common import MAX_ID
from localcap.db import documents as docs
from localcap.db import records as rows_store
from localcap.files import MissingFileError, download_headers, sniff_mime
from localcap.files.mime import HEAD_SIZE
from localcap.model.audit import row_writes
from localcap.model.numbers import small_int
from localcap.model.project import CLASSIC_EVENT_ID, Field, Project
from localcap.model.rights import (
    DEIDENTIFIED,
    NO_ACCESS,
    REMOVE_IDENTIFIERS,
    has_any_export_access,
)
from localcap.model.rows import StoredRow

if TYPE_CHECKING:
    from localcap.files.store import FileStore

log = logging.getLogger("localcap")
#: The longest file name kept (longer ones are cut).
MAX_NAME = 255

INVALID_EVENT = "invalid event"
NO_RECORD = 'The record "{record}" does not exist'
NOT_A_FILE_FIELD = "The field '{field}' does not exist or is not a 'file' field"
NO_FILE_TO_DOWNLOAD = "There is no file to download for this record"
NO_FILE_TO_DELETE = "There is no file to delete for this record"
NO_UPLOAD = (
    "No file was uploaded: send the file as the multipart/form-data field 'file' "
    "(curl -F 'file=@path')"
)
BAD_INSTANCE = 'The value of the parameter "repeat_instance" is not valid'
NOT_IN_EVENT = (
    "The field '{field}' is on the instrument '{form}', which is not designated for the "
    "event '{event}'"
)
IDENTIFIER_EXPORT = (
    "The API request cannot complete because the field '{field}' is tagged as an identifier "
    'and you have "{level}" data export rights for the instrument \'{form}\'. "Full Data Set" '
    "export rights are required to export this file."
)
FOREIGN_DAG_RECORD = (
    "You are in a Data Access Group and these records belong to another group: {record}"
)
NO_CREATE = (
    "You do not have Create Records privileges, so these records cannot be created: {record}"
)
MISSING_BYTES = (
    "The file is missing from the server's file store; the administrator can "
    "find every such file with `localcap files verify`."
)
LEVEL_NAMES = {DEIDENTIFIED: "De-Identified", REMOVE_IDENTIFIERS: "Remove All Identifier Fields"}

#: Bytes read per step when streaming an upload into the store.
UPLOAD_CHUNK = 1 << 20
#: Bytes per chunk of a download: measured best of 256 KiB / 1 MiB / 4 MiB / 16 MiB with
#: benchmarks/file_export.py (smaller costs thread hops, larger costs copies and memory).
EXPORT_CHUNK = 1 << 20


@dataclass(frozen=True)
class Target:
    """Where a file lives: the stored row (record, event, repeat instrument, instance) + field."""

    record: str
    field: Field
    event_id: int
    event_name: str
    repeat_instrument: str
    instance: int

    @property
    def form(self) -> str:
        return self.field.form_name


def _event(ctx: ApiContext) -> tuple[int, str]:
    """The event to use: required (and must exist) in longitudinal projects, ignored otherwise."""
    project = ctx.project
    if not project.is_longitudinal:
        return CLASSIC_EVENT_ID, ""
    name = ctx.request.get("event").strip()
    event = project.event_by_name.get(name)
    if event is None:
        raise ApiError(400, INVALID_EVENT)
    return event.event_id, name


def _file_field(project: Project, name: str) -> Field:
    field = project.field_by_name.get(name)
    if field is None or field.field_type != "file":
        raise ApiError(400, NOT_A_FILE_FIELD.format(field=name))
    return field


def _instance(ctx: ApiContext, project: Project, event_id: int, form: str) -> tuple[str, int]:
    """(repeat_instrument, instance): ``repeat_instance`` counts only where the data repeats.

    REDCap's default is instance 1, and the parameter is ignored for a form that repeats
    neither as an instrument nor through its event (clients such as redcaplite send it
    unconditionally).
    """
    if project.is_repeating_form(event_id, form):
        instrument = form
    elif project.is_repeating_event(event_id):
        instrument = ""
    else:
        return "", 1
    text = ctx.request.get("repeat_instance").strip()
    if not text:
        return instrument, 1
    instance = small_int(text, MAX_ID, minimum=1)
    if instance is None:
        raise ApiError(400, BAD_INSTANCE)
    return instrument, instance


def resolve_target(ctx: ApiContext, conn: Connection, *, may_be_new: bool) -> tuple[Target, bool]:
    """Check event, record and field in REDCap's order; returns the target and whether the
    record exists. ``may_be_new`` (import) lets a missing record through: import creates it."""
    project = ctx.project
    event_id, event_name = _event(ctx)
    record = ctx.request.get("record").strip()
    exists, group_id = rows_store.record_group(conn, project.project_id, record)
    visible = exists and (ctx.group_id is None or group_id == ctx.group_id)
    if not visible:
        if not may_be_new or not record:
            raise ApiError(400, NO_RECORD.format(record=record))
        if exists:  # another DAG's record: an import cannot create it either
            raise ApiError(400, FOREIGN_DAG_RECORD.format(record=record))
    field = _file_field(project, ctx.request.get("field").strip())
    instrument, instance = _instance(ctx, project, event_id, field.form_name)
    return Target(record, field, event_id, event_name, instrument, instance), visible


def _check_export_level(ctx: ApiContext, field: Field) -> None:
    """The seed's table: No Access always fails; De-Identified and Remove All Identifier
    Fields fail only for identifier-tagged fields; Full Data Set always passes."""
    level = ctx.rights.export_level(field.form_name)
    if level == NO_ACCESS:
        raise ApiError(403, NO_ACCESS_EXPORT)
    if level in LEVEL_NAMES and field.is_identifier:
        raise ApiError(
            403,
            IDENTIFIER_EXPORT.format(
                field=field.field_name, level=LEVEL_NAMES[level], form=field.form_name
            ),
        )


def _stored_document(
    conn: Connection, project: Project, target: Target
) -> tuple[docs.DataRow, docs.Document | None]:
    row = docs.read_data_row(
        conn,
        project.project_id,
        target.record,
        target.event_id,
        target.repeat_instrument,
        target.instance,
    )
    value = row.data.get(target.field.field_name)
    if value in (None, ""):
        return row, None
    return row, docs.get_document(conn, project.project_id, value)


def empty_answer(ctx: ApiContext) -> Response:
    """200 with an empty body, typed by returnFormat (PyCap and REDCapR read only the status)."""
    media = {"json": "application/json", "csv": "text/csv"}.get(
        error_format(ctx.request.params), "text/xml"
    )
    return Response(b"", headers={"content-type": f"{media}; charset=utf-8"})


def export_file(ctx: ApiContext) -> Response:
    ctx.require_export()
    project = ctx.project
    if not has_any_export_access(project, ctx.rights):
        raise ApiError(403, NO_ACCESS_EXPORT)
    with ctx.read_snapshot() as conn:
        target, _ = resolve_target(ctx, conn, may_be_new=False)
        _check_export_level(ctx, target.field)
        _, document = _stored_document(conn, project, target)
    if document is None:
        raise ApiError(400, NO_FILE_TO_DOWNLOAD)
    return document_response(ctx, document)


def document_response(ctx: ApiContext, document: docs.Document) -> Response:
    """A stored document's bytes, streamed with the headers every client reads (see above).

    Shared by Export File and the File Repository's export."""
    try:
        # Opened before the response starts: a missing file is an API error, not a broken 200.
        body = ctx.state.file_store.open(document.store_key, EXPORT_CHUNK)
    except MissingFileError:
        log.error(
            "document %s (key %s) of project %s is missing from the file store",
            document.doc_id,
            document.store_key,
            document.project_id,
        )
        raise ApiError(500, MISSING_BYTES) from None
    headers = download_headers(document.mime_type, document.name)
    headers["content-length"] = str(document.size)
    return StreamingResponse(body, headers=headers)


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


def required_upload(ctx: ApiContext) -> UploadFile:
    """The multipart field ``file``; 400 when the request carries none."""
    upload = ctx.request.files.get("file")
    if upload is None:
        raise ApiError(400, NO_UPLOAD)
    return upload


def store_upload(ctx: ApiContext, upload: UploadFile) -> StoredUpload:
    """Write an upload's bytes to the store (step 1 of the durability order), sniffing its
    mime type from the content on the way. The caller inserts the document and, if its
    transaction fails, deletes ``key`` again (nothing refers to it yet)."""
    return put_upload(ctx.state.file_store, upload)


def put_upload(store: FileStore, upload: UploadFile) -> StoredUpload:
    """:func:`store_upload` for callers without an API context (the survey pages)."""
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


@contextmanager
def dropped_on_failure(ctx: ApiContext, stored: StoredUpload) -> Iterator[None]:
    """Around step 2: if the database change fails, the new bytes are referenced by nothing
    and are deleted again; the error propagates."""
    try:
        yield
    except BaseException:
        ctx.state.file_store.delete(stored.key)
        raise


def _write_field(
    conn: Connection,
    ctx: ApiContext,
    target: Target,
    value: str | None,
    *,
    create: bool,
) -> str | None:
    """Set (or with ``None`` clear) the field's value under the record lock; returns the old
    value. Creating the record, when asked, puts it in the caller's DAG as REDCap does."""
    project = ctx.project
    pid = project.project_id
    if create:
        rows_store.create_record(conn, pid, target.record, ctx.group_id)
    elif not docs.lock_record(conn, pid, target.record):
        raise ApiError(400, NO_RECORD.format(record=target.record))
    row = docs.read_data_row(
        conn, pid, target.record, target.event_id, target.repeat_instrument, target.instance
    )
    name = target.field.field_name
    old = row.data.get(name)
    if value is None:
        row.data.pop(name, None)
    else:
        row.data[name] = value
        # A form that now holds data gets a status, as Import Records does: Incomplete.
        row.data.setdefault(f"{target.form}_complete", "0")
    stored = StoredRow(
        target.record, target.event_id, target.repeat_instrument, target.instance, row.data
    )
    rows_store.save_row(conn, pid, stored, is_new=not row.exists)
    rows_store.touch_records(conn, pid, [target.record])
    return None if old in (None, "") else str(old)


def import_file(ctx: ApiContext) -> Response:
    ctx.require_import()
    with ctx.read_snapshot() as conn:  # refuse bad requests before storing any bytes
        _import_target(ctx, conn)
    stored = store_upload(ctx, required_upload(ctx))  # 1. the bytes, durably, under a fresh key
    old_key: str | None = None
    with dropped_on_failure(ctx, stored), ctx.write_transaction() as conn:
        # 2. the database: new document row + field value, in one transaction, checked again
        # under the project's write lock (the record may have been created, moved to another
        # DAG or deleted meanwhile).
        target, exists = _import_target(ctx, conn)
        doc_id = stored.insert(conn, ctx.project.project_id)
        old = _write_field(conn, ctx, target, str(doc_id), create=not exists)
        if old is not None:
            replaced = docs.delete_document(conn, ctx.project.project_id, old)
            old_key = replaced.store_key if replaced is not None else None
    if old_key is not None:
        delete_bytes(ctx, old_key)  # 3. only after the commit
    _log_file_change(ctx, target, {}, {target.field.field_name: str(doc_id)}, created=not exists)
    return empty_answer(ctx)


def _import_target(ctx: ApiContext, conn: Connection) -> tuple[Target, bool]:
    """Import File's target and whether its record exists, refused as REDCap refuses it."""
    target, exists = resolve_target(ctx, conn, may_be_new=True)
    if target.form not in ctx.project.forms_in_event(target.event_id):
        raise ApiError(
            400,
            NOT_IN_EVENT.format(
                field=target.field.field_name, form=target.form, event=target.event_name
            ),
        )
    required_upload(ctx)
    if not exists and not ctx.rights.flag("record_create"):
        raise ApiError(403, NO_CREATE.format(record=target.record))
    return target, exists


def _log_file_change(
    ctx: ApiContext, target: Target, before: dict[str, str], after: dict[str, str], created: bool
) -> None:
    """The audit log's record of a file field change: REDCap's ``field = '<document id>'``
    (``''`` when deleted), as a record change of ``target.record``."""
    if ctx.audit is None:
        return
    key = (target.record, target.event_id, target.repeat_instrument, target.instance)
    ctx.audit.records = [target.record]
    ctx.audit.changes = row_writes(
        ctx.project, [key], {key: before}, {key: after}, {target.record} if created else set()
    )


def delete_file(ctx: ApiContext) -> Response:
    ctx.require_import()
    with ctx.write_transaction() as conn:
        project = ctx.project  # as of the lock (ctx.write_transaction re-reads a changed design)
        target, _ = resolve_target(ctx, conn, may_be_new=False)
        _, document = _stored_document(conn, project, target)
        if document is None:
            raise ApiError(400, NO_FILE_TO_DELETE)
        old = _write_field(conn, ctx, target, None, create=False)
        removed = docs.delete_document(conn, project.project_id, old) if old else None
    if removed is not None:
        delete_bytes(ctx, removed.store_key)
    _log_file_change(ctx, target, {target.field.field_name: old or ""}, {}, created=False)
    return empty_answer(ctx)


def delete_bytes(ctx: ApiContext, key: str) -> None:
    """Drop bytes nothing refers to any more. A failure here loses nothing (the database no
    longer points at them), so it is logged, not reported to the client."""
    try:
        ctx.state.file_store.delete(key)
    except Exception:  # noqa: BLE001 - the API answer is already decided
        log.exception("could not delete the replaced file %s from the file store", key)
