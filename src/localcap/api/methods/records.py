"""Export Records (flat), Import Records (flat), Delete Records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select
from starlette.responses import Response, StreamingResponse

from localcap.api.context import ApiContext
from localcap.api.errors import (
    HIDDEN_FILTER_FIELDS,
    NO_ACCESS_EXPORT,
    NO_DELETE,
    ApiError,
    error_format,
)
from localcap.api.methods.common import import_rows
from localcap.api.methods.files import delete_bytes
from localcap.db import records as rows_store
from localcap.db import schema as t
from localcap.db import surveys as survey_store
from localcap.db.documents import delete_document
from localcap.formats.csv_writer import format_line, needs_quotes, parse_delimiter, write_csv
from localcap.formats.json_writer import write_json
from localcap.formats.xml_writer import write_xml_records
from localcap.logic import CompiledLogic
from localcap.model.audit import Change, printable, row_writes
from localcap.model.eav import EavExport, eav_to_flat
from localcap.model.filtering import (
    FilterError,
    compile_filter,
    filter_rows,
    unexportable_fields,
)
from localcap.model.flat import FlatExport, FlatOptions, export_field_order
from localcap.model.names import check_names
from localcap.model.project import Project
from localcap.model.record_import import ImportChecker, ImportPlan, write_plan
from localcap.model.record_names import record_name_problem, record_number
from localcap.model.rights import has_any_export_access
from localcap.model.rows import StoredRow

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}


def flat_options(ctx: ApiContext, **overrides: Any) -> FlatOptions:
    """The export parameters shared by Export Records and Export Reports."""
    req = ctx.request
    raw_or_label = req.get("rawOrLabel", "raw").strip().lower()
    headers = req.get("rawOrLabelHeaders", "raw").strip().lower()
    decimal = req.get("decimalCharacter").strip()
    decimal = {"comma": ",", "dot": "."}.get(decimal, decimal)
    options = FlatOptions(
        raw_or_label="label" if raw_or_label == "label" else "raw",
        label_headers=headers == "label",
        checkbox_labels=req.flag("exportCheckboxLabel"),
        export_dags=req.flag("exportDataAccessGroups"),
        export_survey_fields=req.flag("exportSurveyFields"),
        decimal_character=decimal if decimal in (".", ",") else "",
        blank_for_gray_status=req.flag("exportBlankForGrayFormStatus"),
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


def stream_flat(
    ctx: ApiContext,
    export: FlatExport,
    rows: Iterator[list[Any]],
    fmt: str,
    header_alone: bool = True,
) -> Response:
    """Stream the rows in csv/json/xml (odm is the report module's)."""
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


def document_names(ctx: ApiContext, conn: Connection) -> dict[str, str]:
    """doc_id -> file name, for Export Records' file fields (only if the project has any)."""
    if not any(f.field_type == "file" for f in ctx.project.fields):
        return {}
    return {
        str(r.doc_id): r.name
        for r in conn.execute(
            select(t.documents.c.doc_id, t.documents.c.name).where(
                t.documents.c.project_id == ctx.project.project_id
            )
        )
    }


def record_rows(
    ctx: ApiContext,
    conn: Connection,
    records: list[str] | None,
    event_ids: list[int] | None,
    group_ids: list[int] | None = None,
    changed: tuple[str, str] | None = None,
) -> Iterator[StoredRow]:
    """The project's stored rows the caller may see (a user in a DAG: that DAG's), streamed."""
    if ctx.group_id is not None:
        group_ids = [ctx.group_id]
    yield from rows_store.iter_rows(conn, ctx.project, records, group_ids, event_ids, changed)


def stored_rows(
    ctx: ApiContext,
    records: list[str] | None,
    event_ids: list[int] | None,
    group_ids: list[int] | None = None,
    changed: tuple[str, str] | None = None,
    doc_names: dict[str, str] | None = None,
) -> Iterator[StoredRow]:
    """Stream the stored rows from one read snapshot held for the whole export, so that it
    sees every record as of one moment however long the client takes to read it.
    ``doc_names``, when given, is filled from the same snapshot before the first row."""
    with ctx.read_snapshot() as conn:
        if doc_names is not None:
            doc_names.update(document_names(ctx, conn))
        yield from record_rows(ctx, conn, records, event_ids, group_ids, changed)


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


def requested_events(ctx: ApiContext) -> list[int] | None:
    events = ctx.request.list("events")
    if not events or not ctx.project.is_longitudinal:
        return None
    check_names("events", events, set(ctx.project.event_by_name))
    return [ctx.project.event_by_name[e].event_id for e in events]


def user_filter(ctx: ApiContext) -> CompiledLogic | None:
    """The caller's own ``filterLogic`` (Export Records, Export Project XML), compiled.

    Logic that reads a field the caller's export rights remove is refused (400, naming the
    fields), before any data is read: evaluating it would let the caller bisect hidden values
    (``[dob] <= "1941-12-09"``), and treating the field as blank would silently give wrong
    rows. The answer depends on the expression and the rights only (docs/RIGHTS.md)."""
    expression = ctx.request.get("filterLogic").strip()
    if not expression:
        return None
    try:
        logic = compile_filter(ctx.project, expression)
    except FilterError as exc:
        raise ApiError(400, f"The filterLogic is not valid: {exc}") from None
    hidden = unexportable_fields(ctx.project, ctx.rights, logic.fields_referenced)
    if hidden:
        raise ApiError(400, HIDDEN_FILTER_FIELDS.format(fields=", ".join(hidden)))
    return logic


def record_type_of(ctx: ApiContext) -> str:
    """``type``: flat (one row per record/event/instance) or eav (one row per value)."""
    record_type = ctx.request.get("type", "flat").strip().lower() or "flat"
    if record_type not in ("flat", "eav"):
        raise ApiError(400, 'The value of the parameter "type" is not valid')
    return record_type


def export_records(ctx: ApiContext) -> Response:
    ctx.require_export()
    project, rights = ctx.project, ctx.rights
    if not has_any_export_access(project, rights):
        raise ApiError(403, NO_ACCESS_EXPORT)
    record_type = record_type_of(ctx)
    fields = ctx.request.list("fields")
    forms = ctx.request.list("forms")
    known_fields = set(project.field_by_name) | set(project.complete_fields)
    check_names("fields", fields, known_fields)
    check_names("forms", forms, set(project.form_by_name))
    logic = user_filter(ctx)
    records = ctx.request.list("records")
    event_ids = requested_events(ctx)
    order = export_field_order(project, fields, forms)
    doc_names: dict[str, str] = {}  # filled by stored_rows, from the export's snapshot
    options = flat_options(ctx, doc_names=doc_names)
    options.record_id_always = False
    export = FlatExport(project, rights, ctx.group_id, order, options)
    fmt = ctx.format if ctx.format in ("json", "csv") else "xml"
    stored = stored_rows(ctx, records, event_ids, changed=date_range(ctx), doc_names=doc_names)
    if logic is not None:
        dag = project.dag_by_id.get(ctx.group_id) if ctx.group_id else None
        stored = filter_rows(
            project, stored, logic, user=ctx.username, user_dag=dag.unique_name if dag else ""
        )
    if record_type == "eav":
        eav = EavExport(export)
        audit_export(ctx, eav)
        return stream_rows(ctx, eav.header, eav.header, eav.rows(stored), fmt, header_alone=False)
    rows = export.rows(stored)
    audit_export(ctx, export)
    return stream_flat(ctx, export, iter(rows), fmt, header_alone=False)


def audit_export(ctx: ApiContext, export: FlatExport | EavExport) -> None:
    if ctx.audit is not None:
        ctx.audit.row_counter = lambda: export.rows_emitted


def import_response(ctx: ApiContext, records: list[str], id_map: dict[str, str]) -> Response:
    fmt = error_format(ctx.request.params)
    content = ctx.request.get("returnContent", "count").strip().lower() or "count"
    if content == "nothing":
        return Response(b"", headers={"content-type": CONTENT_TYPES[fmt]})
    if content in ("ids", "auto_ids"):
        items = (
            [f"{new},{old}" for old, new in id_map.items()]
            if content == "auto_ids" and id_map
            else [id_map.get(r, r) for r in records]
        )
        if fmt == "json":
            body = orjson.dumps(items)
        elif fmt == "csv":
            # One value per line, quoted as REDCap's CSV is: an auto_ids pair is one value
            # ("2,1"), which R and pandas read as one column (redcapAPI's suite).
            quote = needs_quotes(",")
            body = ("id\n" + "".join(format_line([i], ",", quote) for i in items)).encode()
        else:
            ids = "".join(f"<id>{i}</id>" for i in items)
            body = f'<?xml version="1.0" encoding="UTF-8" ?><ids>{ids}</ids>'.encode()
        return Response(body, headers={"content-type": CONTENT_TYPES[fmt]})
    count = len(records)
    if fmt == "json":
        body = orjson.dumps({"count": count})
    elif fmt == "csv":
        body = str(count).encode()
    else:
        body = f'<?xml version="1.0" encoding="UTF-8" ?><count>{count}</count>'.encode()
    return Response(body, headers={"content-type": CONTENT_TYPES[fmt]})


def _import_plan(
    ctx: ApiContext, rows: list[dict[str, Any]], record_type: str, date_format: str
) -> ImportPlan:
    """The submitted rows checked against the project's design as :attr:`ctx.project` has it."""
    project = ctx.project
    if record_type == "eav":
        try:
            rows = eav_to_flat(project, rows)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    return ImportChecker(project, date_format).check(rows, ctx.group_id)


def import_records(ctx: ApiContext) -> Response:
    ctx.require_import()
    record_type = record_type_of(ctx)
    behavior = ctx.request.get("overwriteBehavior", "normal").strip().lower() or "normal"
    if behavior not in ("normal", "overwrite"):
        raise ApiError(400, 'The value of the parameter "overwriteBehavior" is not valid')
    date_format = ctx.request.get("dateFormat", "YMD").strip().upper() or "YMD"
    if date_format not in ("YMD", "MDY", "DMY"):
        raise ApiError(400, 'The value of the parameter "dateFormat" is not valid')
    rows = import_rows(ctx)
    # Checked once before the write lock (bad input is refused without waiting for it), and
    # again inside it if the design changed meanwhile: the plan must fit the design it is
    # written into.
    plan = _import_plan(ctx, rows, record_type, date_format)
    checked_against = ctx.project
    changes: list[Change] = []
    with ctx.write_transaction() as conn:
        if ctx.project is not checked_against:
            plan = _import_plan(ctx, rows, record_type, date_format)
        records, id_map = write_plan(
            conn,
            ctx.project,
            plan,
            group_id=ctx.group_id,
            overwrite=behavior == "overwrite",
            auto_number=ctx.request.flag("forceAutoNumber"),
            may_create=ctx.rights.flag("record_create"),
            log=changes,
        )
    if ctx.audit is not None:
        ctx.audit.records = records
        ctx.audit.changes = changes
    return import_response(ctx, records, id_map)


def delete_records(ctx: ApiContext) -> Response:
    ctx.require("record_delete", NO_DELETE)
    records = ctx.request.list("records") or []
    if not records:
        raise ApiError(400, "The parameter 'records' is missing")
    event_name = ctx.request.get("event").strip()
    instrument = ctx.request.get("instrument").strip()
    instance_text = ctx.request.get("repeat_instance").strip()
    arm_text = ctx.request.get("arm").strip()
    if ctx.audit is not None:
        ctx.audit.records = list(records)
    with ctx.write_transaction() as conn:
        # The design as of the lock: the event, form or arm may be new or gone.
        project = ctx.project
        if event_name and event_name not in project.event_by_name:
            raise ApiError(400, f"The event '{event_name}' is not valid")
        if instrument and instrument not in project.form_by_name:
            raise ApiError(400, f"The instrument '{instrument}' is not valid")
        arm_events = delete_arm_events(project, arm_text)
        rows = rows_store.load_rows(conn, project.project_id, records)
        existing = rows_store.existing_records(conn, project.project_id, records)
        if arm_events is not None:  # a record exists in an arm where it holds rows
            in_arm = {row.record for row in rows if row.event_id in arm_events}
            existing = {r: g for r, g in existing.items() if r in in_arm}
        missing = [r for r in records if r not in existing]
        if ctx.group_id is not None:
            missing += [r for r in records if r in existing and existing[r] != ctx.group_id]
        if missing:
            raise ApiError(
                400,
                "One or more of the records provided cannot be deleted because they do not "
                "exist in the project. The following records do not exist: " + ", ".join(missing),
            )
        whole = not (event_name or instrument or instance_text)
        file_fields = {f.field_name for f in project.fields if f.field_type == "file"}
        released: list[str] = []

        def release(data: dict[str, Any], names: Iterable[str]) -> None:
            """Deleted file values take their documents with them."""
            for name in names:
                if name in file_fields and data.get(name):
                    document = delete_document(conn, project.project_id, data[name])
                    if document is not None:
                        released.append(document.store_key)

        deleted = 0
        kept: set[str] = set()  # records keeping rows in other arms
        erased: dict[tuple[str, int, str, int], dict[str, Any]] = {}
        event_id = project.event_by_name[event_name].event_id if event_name else None
        for row in rows:
            if arm_events is not None and row.event_id not in arm_events:
                kept.add(row.record)
                continue
            if event_id is not None and row.event_id != event_id:
                continue
            if instance_text and str(row.instance) != instance_text:
                continue
            names = [n for n in row.data if not instrument or project.form_of(n) == instrument]
            if not names:
                continue
            release(row.data, names)
            erased[(row.record, *row.key)] = {n: row.data[n] for n in names}
            if not whole or arm_events is not None:  # a row left empty is deleted
                for name in names:
                    row.data.pop(name)
                rows_store.save_row(conn, project.project_id, row, is_new=False)
                forms = {n.removesuffix("_complete") for n in names if n.endswith("_complete")}
                survey_store.forget_responses(
                    conn, project.project_id, row.record, row.event_id, row.instance, forms
                )
            deleted += 1
        if whole:  # a record is gone when no arm holds its rows any more
            gone = [r for r in records if r not in kept]
            rows_store.delete_records(conn, project.project_id, gone)
            survey_store.forget_records(conn, project.project_id, gone)
            rows_store.touch_records(conn, project.project_id, [r for r in records if r in kept])
        else:
            rows_store.touch_records(conn, project.project_id, records)
    for key in released:
        delete_bytes(ctx, key)
    if ctx.audit is not None:
        # A whole record deleted from one arm is still REDCap's "Delete record": redcapAPI's
        # changedRecords() finds the records its purgeProject() deleted arm by arm there.
        id_field = project.record_id_field
        where = f"[arm = {arm_text}] " if arm_events is not None else ""
        ctx.audit.changes = (
            [
                Change("Delete record (API)", r, f"{where}{id_field} = '{printable(r)}'")
                for r in records
            ]
            if whole
            else row_writes(project, list(erased), erased, {}, set())
        )
    if whole:
        return Response(str(len(records)), media_type="text/plain")
    return Response(str(len(records) if deleted else 0), media_type="text/plain")


def delete_arm_events(project: Project, arm_text: str) -> set[int] | None:
    """The events of Delete Records' ``arm``: records are deleted from that arm only (REDCapR
    recorded records deleted from arm 2 still in arms 1 and 3); None without an arm."""
    if not arm_text or not project.is_longitudinal:
        return None
    if not arm_text.isdigit() or int(arm_text) not in project.arm_by_num:
        raise ApiError(400, f"The arm number '{arm_text}' is not valid")
    return {e.event_id for e in project.events if e.arm_num == int(arm_text)}


def generate_next_record_name(ctx: ApiContext) -> Response:
    """The next record name: max numeric id + 1; for a user in a DAG, ``<group_id>-<n>``."""
    ctx.require_export()
    pid = ctx.project.project_id
    with ctx.read_snapshot() as conn:
        if ctx.group_id is None:
            name = rows_store.next_record_names(conn, pid, 1)[0]
        else:
            prefix = f"{ctx.group_id}-"
            used = (
                record_number(r[len(prefix) :])
                for r in rows_store.record_names_with_prefix(conn, pid, prefix)
            )
            name = f"{prefix}{max((n for n in used if n is not None), default=0) + 1}"
    return Response(name, media_type="text/plain")


def rename_record(ctx: ApiContext) -> Response:
    """Rename Record: ``record`` becomes ``new_record_name``; answers ``1``."""
    ctx.require_import()
    ctx.require("record_rename", "You do not have Rename Record privileges")
    old = ctx.request.get("record").strip()
    new = ctx.request.get("new_record_name").strip()
    if not old or not new:
        raise ApiError(400, "The parameters 'record' and 'new_record_name' are both required")
    problem = record_name_problem(new)
    if problem:
        raise ApiError(400, f"The value of 'new_record_name' is not valid: {problem}")
    pid = ctx.project.project_id
    with ctx.write_transaction() as conn:
        found = rows_store.existing_records(conn, pid, [old, new])
        if old not in found or (ctx.group_id is not None and found[old] != ctx.group_id):
            raise ApiError(400, f'The record "{old}" does not exist')
        if new in found:
            raise ApiError(400, f'The record "{new}" already exists')
        rows_store.rename_record(conn, pid, old, new)
        survey_store.rename_record(conn, pid, old, new)
    if ctx.audit is not None:
        ctx.audit.records = [old, new]
        ctx.audit.changes = [
            Change(
                "Update record (API)",
                new,
                f"{ctx.project.record_id_field} = '{printable(new)}' (renamed from '{printable(old)}')",
            )
        ]
    return Response("1", media_type="text/plain")
