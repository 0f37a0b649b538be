"""What the method modules share: parsing common parameters (the export selection, names,
import data), the export opening, and rendering answers (lists, counts, streamed rows, file
downloads). Method modules import nothing from each other, only from here."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from localcap.actions.uploads import StoredUpload, put_upload
from localcap.api.context import ApiContext
from localcap.api.errors import IN_A_DAG, NO_DESIGN, OUTSIDE_OWN_DAG, ApiError, error_format
from localcap.db.documents import Document
from localcap.files import MissingFileError, download_headers
from localcap.formats.csv_writer import parse_delimiter, write_csv
from localcap.formats.json_writer import write_json
from localcap.formats.lists import CONTENT_TYPES, render_records
from localcap.formats.parsers import parse_data
from localcap.formats.xml_writer import write_xml_records
from localcap.model.audit import Change, assignments, bounded, printable
from localcap.model.eav import EavExport
from localcap.model.flat import FlatExport, FlatOptions, export_field_order
from localcap.model.names import check_names
from localcap.model.selection import ExportSelection, require_export_access, user_filter

log = logging.getLogger("localcap")

LONGITUDINAL_ONLY = "You cannot export {what} for classic projects"
NO_RECORD = 'The record "{record}" does not exist'
BAD_INSTANCE = 'The value of the parameter "repeat_instance" is not valid'
NO_UPLOAD = (
    "No file was uploaded: send the file as the multipart/form-data field 'file' "
    "(curl -F 'file=@path')"
)
MISSING_BYTES = (
    "The file is missing from the server's file store; the administrator can "
    "find every such file with `localcap files verify`."
)
#: Bytes per chunk of a download: measured best of 256 KiB / 1 MiB / 4 MiB / 16 MiB with
#: benchmarks/file_export.py (smaller costs thread hops, larger costs copies and memory).
EXPORT_CHUNK = 1 << 20


def list_response(
    ctx: ApiContext, items: Sequence[dict[str, Any]], header: Sequence[str]
) -> Response:
    """A list export in the requested format (json/csv/xml; odm and unknown mean xml).

    JSON keeps the values' types: REDCap sends ids and 0/1 rights as JSON numbers (PyCap's
    doctests record ``'arm_num': 1``); CSV and XML are text anyway.
    """
    fmt = ctx.format if ctx.format in ("json", "csv") else "xml"
    body, content_type = render_records(items, fmt, list(header))
    return Response(body, headers={"content-type": content_type})


def import_rows(
    ctx: ApiContext,
    *,
    nested: frozenset[str] = frozenset(),
    empty_columns: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The ``data`` parameter parsed in the request's ``format``; 400 when it is unreadable,
    or when a value is not plain text (an object or a list, except in the ``nested`` columns;
    a NUL; a lone surrogate): every import method reads its data here.

    ``empty_columns``: for imports where "none" is a meaningful answer, a document that
    clearly says "no rows" (``[]``; a CSV header naming only these columns; ``<records/>``)
    is an empty list rather than an error. Anything else without rows stays a 400, so that
    garbage can never pass for "none" and clear a setting."""
    data = ctx.request.get("data")
    if not data.strip():
        raise ApiError(400, "The data being imported is empty or was not provided")
    fmt = ctx.format if ctx.format in ("json", "csv", "xml") else "xml"
    rows = parse_data(data, fmt, nested=nested)  # a DataParseError is the client's 400
    if not rows and not (empty_columns and _says_no_rows(data, fmt, empty_columns)):
        raise ApiError(400, "The data being imported is empty or was not provided")
    return rows


def _says_no_rows(data: str, fmt: str, columns: Collection[str]) -> bool:
    text = data.strip().lstrip("\ufeff")
    if fmt == "json":
        return text == "[]"
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(text)), [])
        return bool(header) and all(name.strip() in columns for name in header)
    return text.endswith("<records/>") or text.endswith("</records>")


def count_response(ctx: ApiContext, count: int) -> Response:
    """The plain count most imports and deletes answer with (PyCap reads it as JSON: a number)."""
    fmt = error_format(ctx.request.params)
    media = {"json": "application/json", "csv": "text/csv"}.get(fmt, "text/xml")
    return PlainTextResponse(str(count), headers={"content-type": f"{media}; charset=utf-8"})


def require_design(ctx: ApiContext) -> None:
    ctx.require_import()
    ctx.require("design", NO_DESIGN)


def require_no_dag(ctx: ApiContext) -> None:
    """Managing DAGs (and who is in which) is for users in no DAG: a user's DAG is a boundary
    that user must not be able to leave, widen or remove. REDCap keeps DAG-assigned users off
    its DAG page; its API's rule is undocumented, so localcap refuses (403)."""
    if ctx.group_id is not None:
        raise ApiError(403, IN_A_DAG)


def require_own_dag(ctx: ApiContext, username: str, group_id: int | None) -> None:
    """A caller in a DAG (with User Rights) changes only users who are, and stay, in that DAG."""
    if ctx.group_id is not None and group_id != ctx.group_id:
        raise ApiError(403, OUTSIDE_OWN_DAG.format(username=username))


def own_dag_users(ctx: ApiContext, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The users a caller may see in user listings: a caller in a DAG sees that DAG's users
    only (Export Users' rule, for every listing of users)."""
    if ctx.group_id is None:
        return users
    return [u for u in users if u["group_id"] == ctx.group_id]


def require_longitudinal(ctx: ApiContext, what: str) -> None:
    """Arms, events and mappings are exported when the longitudinal setting is on, even with
    no events left (PyCap records an empty list after an arm override removed them all),
    while Export Project Info then reports the project as classic (redcapAPI)."""
    if not ctx.project.longitudinal_enabled:
        raise ApiError(400, LONGITUDINAL_ONLY.format(what=what))


def audit_creation(ctx: ApiContext, project_id: int, description: str) -> None:
    """A super token's Create Project belongs in the new project's log (REDCap's first entry)."""
    if ctx.audit is not None:
        ctx.audit.project_id = project_id
        ctx.audit.description = description


def audit_change(ctx: ApiContext, action: str, pairs: list[tuple[str, Any]]) -> None:
    """One line of the call's "what" in the audit log: REDCap's action words (``Edit user
    bob``, ``Create data access group``) and ``name = 'value'`` details."""
    if ctx.audit is not None:
        shown = printable(bounded(action, 300))  # usernames in it are the callers' own text
        ctx.audit.changes.append(Change(shown, details=assignments(pairs)))


# -- exports -------------------------------------------------------------------------------


def open_export(ctx: ApiContext) -> None:
    """The opening of every data export: the API Export right, then export rights on some
    instrument (403 each, before any parameter is looked at)."""
    ctx.require_export()
    require_export_access(ctx.project, ctx.rights)


def export_options(ctx: ApiContext) -> FlatOptions:
    """How values and headers are shaped (Export Records and Export Reports' parameters)."""
    req = ctx.request
    raw_or_label = req.get("rawOrLabel", "raw").strip().lower()
    headers = req.get("rawOrLabelHeaders", "raw").strip().lower()
    decimal = req.get("decimalCharacter").strip()
    decimal = {"comma": ",", "dot": "."}.get(decimal, decimal)
    return FlatOptions(
        raw_or_label="label" if raw_or_label == "label" else "raw",
        label_headers=headers == "label",
        checkbox_labels=req.flag("exportCheckboxLabel"),
        export_dags=req.flag("exportDataAccessGroups"),
        export_survey_fields=req.flag("exportSurveyFields"),
        decimal_character=decimal if decimal in (".", ",") else "",
        blank_for_gray_status=req.flag("exportBlankForGrayFormStatus"),
    )


def new_selection(ctx: ApiContext, **chosen: Any) -> ExportSelection:
    """An export selection for the caller (project, rights, user, DAG, the shaping options of
    the request), narrowed by ``chosen``: every exporter's selection starts here."""
    return ExportSelection(
        ctx.project, ctx.rights, ctx.username, ctx.group_id, options=export_options(ctx), **chosen
    )


def export_selection(ctx: ApiContext, *, forms: bool) -> ExportSelection:
    """The selection Export Records (``forms``: it also reads ``forms`` and the date range)
    and Export Project XML parse from ``fields``, ``forms``, ``filterLogic``, ``records``,
    ``events`` and ``dateRangeBegin``/``dateRangeEnd``, checked in that order with REDCap's
    errors."""
    project = ctx.project
    fields = ctx.request.list("fields")
    check_names("fields", fields, set(project.field_by_name) | set(project.complete_fields))
    wanted_forms = ctx.request.list("forms") if forms else None
    check_names("forms", wanted_forms, set(project.form_by_name))
    logic = user_filter(project, ctx.rights, ctx.request.get("filterLogic").strip())
    records = ctx.request.list("records")
    event_ids = requested_events(ctx)
    return new_selection(
        ctx,
        fields=export_field_order(project, fields, wanted_forms)
        if fields or wanted_forms
        else None,
        records=records,
        event_ids=event_ids,
        logic=logic,
        changed=date_range(ctx) if forms else None,
    )


def requested_events(ctx: ApiContext) -> list[int] | None:
    """``events`` (longitudinal projects; classic ones ignore it) as event ids."""
    events = ctx.request.list("events")
    if not events or not ctx.project.is_longitudinal:
        return None
    check_names("events", events, set(ctx.project.event_by_name))
    return [ctx.project.event_by_name[e].event_id for e in events]


def date_range(ctx: ApiContext) -> tuple[str, str] | None:
    """dateRangeBegin/dateRangeEnd (``YYYY-MM-DD HH:MM:SS``): records created or modified
    after the first and before the second."""
    bounds = []
    for name in ("dateRangeBegin", "dateRangeEnd"):
        value = ctx.request.get(name).strip()
        if value:
            try:
                value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").strftime("%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise ApiError(
                    400, f'The value of "{name}" must be a date-time as YYYY-MM-DD HH:MM:SS'
                ) from None
        bounds.append(value)
    return (bounds[0], bounds[1]) if any(bounds) else None


def audit_export(ctx: ApiContext, export: FlatExport | EavExport) -> None:
    """The audit entry of a streamed export records how many rows it sent, once it ends."""
    if ctx.audit is not None:
        ctx.audit.row_counter = lambda: export.rows_emitted


def stream_flat(
    ctx: ApiContext,
    export: FlatExport,
    rows: Iterator[list[Any]],
    fmt: str,
    header_alone: bool = True,
) -> Response:
    """Stream a flat export's rows in csv/json/xml (the header raw or labelled)."""
    csv_header = export.label_header if export.options.label_headers else export.header
    return stream_rows(
        ctx, export.header, csv_header, rows, fmt, export.plain_columns(), header_alone
    )


def stream_rows(
    ctx: ApiContext,
    header: list[str],
    csv_header: list[str],
    rows: Iterator[list[Any]],
    fmt: str,
    plain_columns: list[int] | None = None,
    header_alone: bool = True,
) -> Response:
    """``header_alone``: an empty CSV export is its header line (reports), or, when false, an
    empty body (Export Records, as REDCapR recorded from real REDCap)."""
    if fmt == "csv":
        delimiter = parse_delimiter(ctx.request.get("csvDelimiter", ","))
        body = write_csv(csv_header, rows, delimiter, plain_columns, header_alone)
    elif fmt == "json":
        body = write_json(header, rows)
    else:
        body = write_xml_records(header, rows)
    return StreamingResponse(body, headers={"content-type": CONTENT_TYPES[fmt]})


# -- files ---------------------------------------------------------------------------------


def document_response(ctx: ApiContext, document: Document) -> Response:
    """A stored document's bytes, streamed with the headers every client reads (Export File,
    the File Repository's export): ``Content-Type: <mime>; name="<name>"`` and no other
    header carrying ``name=`` (REDCapR scans every header for it)."""
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


def empty_answer(ctx: ApiContext) -> Response:
    """200 with an empty body, typed by returnFormat (PyCap and REDCapR read only the status):
    what Import/Delete File and the File Repository's import/delete answer."""
    media = {"json": "application/json", "csv": "text/csv"}.get(
        error_format(ctx.request.params), "text/xml"
    )
    return Response(b"", headers={"content-type": f"{media}; charset=utf-8"})


def delete_bytes(ctx: ApiContext, key: str) -> None:
    """Drop bytes nothing refers to any more. A failure here loses nothing (the database no
    longer points at them), so it is logged, not reported to the client."""
    try:
        ctx.state.file_store.delete(key)
    except Exception:  # noqa: BLE001 - the API answer is already decided
        log.exception("could not delete the replaced file %s from the file store", key)


def required_upload(ctx: ApiContext) -> UploadFile:
    """The multipart field ``file``; 400 when the request carries none."""
    upload = ctx.request.files.get("file")
    if upload is None:
        raise ApiError(400, NO_UPLOAD)
    return upload


def store_upload(ctx: ApiContext, upload: UploadFile) -> StoredUpload:
    """An upload's bytes in the file store (:func:`localcap.actions.uploads.put_upload`)."""
    return put_upload(ctx.state.file_store, upload)


@contextmanager
def dropped_on_failure(ctx: ApiContext, stored: StoredUpload) -> Iterator[None]:
    """Around step 2: if the database change fails, the new bytes are referenced by nothing
    and are deleted again; the error propagates."""
    try:
        yield
    except BaseException:
        ctx.state.file_store.delete(stored.key)
        raise
