"""Export / Import / Delete File (``content=file``): the bytes behind file-upload fields.

A file field's stored value is a ``doc_id`` (see :mod:`localcap.db.documents`); the bytes live
in the configured file store. What REDCap clients rely on, and why this module looks the way
it does (as the clients' sources and their tests recorded against real REDCap show):

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

from dataclasses import dataclass

from sqlalchemy import Connection
from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import (
    BAD_INSTANCE,
    NO_RECORD,
    delete_bytes,
    document_response,
    dropped_on_failure,
    empty_answer,
    open_export,
    required_upload,
    store_upload,
)
from localcap.db import documents as docs
from localcap.db import records as rows_store
from localcap.model.audit import row_writes
from localcap.model.numbers import MAX_ID, small_int
from localcap.model.project import CLASSIC_EVENT_ID, Field, Project
from localcap.model.rows import StoredRow
from localcap.model.selection import require_file_export

INVALID_EVENT = "invalid event"
NOT_A_FILE_FIELD = "The field '{field}' does not exist or is not a 'file' field"
NO_FILE_TO_DOWNLOAD = "There is no file to download for this record"
NO_FILE_TO_DELETE = "There is no file to delete for this record"
NOT_IN_EVENT = (
    "The field '{field}' is on the instrument '{form}', which is not designated for the "
    "event '{event}'"
)
FOREIGN_DAG_RECORD = (
    "You are in a Data Access Group and these records belong to another group: {record}"
)
NO_CREATE = (
    "You do not have Create Records privileges, so these records cannot be created: {record}"
)


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


def export_file(ctx: ApiContext) -> Response:
    open_export(ctx)
    project = ctx.project
    with ctx.read_snapshot() as conn:
        target, _ = resolve_target(ctx, conn, may_be_new=False)
        require_file_export(ctx.rights, target.field)
        _, document = _stored_document(conn, project, target)
    if document is None:
        raise ApiError(400, NO_FILE_TO_DOWNLOAD)
    return document_response(ctx, document)


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
