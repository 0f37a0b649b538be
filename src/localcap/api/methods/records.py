"""Export Records (flat), Import Records (flat), Delete Records."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

import localcap.actions.import_records as use_case
from localcap.actions.export import selected_rows
from localcap.actions.record_delete import delete_records as carry_out_delete
from localcap.api.context import ApiContext
from localcap.api.errors import NO_DELETE, ApiError, error_format
from localcap.api.methods.common import (
    audit_export,
    delete_bytes,
    export_selection,
    import_rows,
    open_export,
    stream_flat,
    stream_rows,
)
from localcap.db import records as rows_store
from localcap.db import surveys as survey_store
from localcap.formats.csv_writer import format_line, needs_quotes
from localcap.formats.lists import CONTENT_TYPES
from localcap.formats.streaming import iter_data_rows
from localcap.model.audit import Change, printable
from localcap.model.eav import EavExport, eav_to_flat
from localcap.model.record_delete import delete_request
from localcap.model.record_import import ImportChecker, ImportPlan
from localcap.model.record_names import record_name_problem, record_number

#: Delete Records' parameters that narrow what is deleted, in :func:`delete_request`'s order.
DELETE_NARROWING = ("event", "instrument", "repeat_instance", "arm")


def record_type_of(ctx: ApiContext) -> str:
    """``type``: flat (one row per record/event/instance) or eav (one row per value)."""
    record_type = ctx.request.get("type", "flat").strip().lower() or "flat"
    if record_type not in ("flat", "eav"):
        raise ApiError(400, 'The value of the parameter "type" is not valid')
    return record_type


def export_records(ctx: ApiContext) -> Response:
    open_export(ctx)
    record_type = record_type_of(ctx)
    selection = export_selection(ctx, forms=True)
    doc_names: dict[str, str] = {}  # filled by selected_rows, from the export's snapshot
    selection.options.doc_names = doc_names
    selection.options.record_id_always = False
    export = selection.flat_export()
    fmt = ctx.format if ctx.format in ("json", "csv") else "xml"
    stored = selected_rows(ctx.engine, selection, doc_names)
    if record_type == "eav":
        eav = EavExport(export)
        audit_export(ctx, eav)
        return stream_rows(ctx, eav.header, eav.header, eav.rows(stored), fmt, header_alone=False)
    rows = export.rows(stored)
    audit_export(ctx, export)
    return stream_flat(ctx, export, iter(rows), fmt, header_alone=False)


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
    options = use_case.ImportOptions(
        group_id=ctx.group_id,
        overwrite=behavior == "overwrite",
        auto_number=ctx.request.flag("forceAutoNumber"),
        may_create=ctx.rights.flag("record_create"),
        audit=True,
    )
    if "data" in ctx.request.bodies and record_type == "flat":
        return _import_streamed(ctx, date_format, options)
    rows = import_rows(ctx)
    # Checked once before the write lock (bad input is refused without waiting for it), and
    # again inside it if the design changed meanwhile: the plan must fit the design it is
    # written into.
    plan = _import_plan(ctx, rows, record_type, date_format)
    checked_against = ctx.project
    with ctx.write_transaction() as conn:
        if ctx.project is not checked_against:
            plan = _import_plan(ctx, rows, record_type, date_format)
        result = use_case.import_records(conn, ctx.project, [plan], options)
    if ctx.audit is not None:
        ctx.audit.records = result.records
        ctx.audit.changes = result.changes
    return import_response(ctx, result.records, result.id_map)


def _import_streamed(
    ctx: ApiContext, date_format: str, options: use_case.ImportOptions
) -> Response:
    """Import Records of a big body (kept on disk by the request parser): rows are parsed as
    they are read and checked and written a batch at a time in one write transaction
    (:func:`localcap.actions.import_records.import_stream`), so the server's memory does not
    grow with the body. A problem anywhere rolls everything back, every problem listed."""
    fmt = ctx.format if ctx.format in ("json", "csv", "xml") else "xml"
    audit = ctx.audit
    with ctx.write_transaction() as conn:  # the design as of the lock
        rows = iter_data_rows(ctx.request.text_chunks("data"), fmt)
        checker = ImportChecker(ctx.project, date_format)
        log = audit.add_changes if audit is not None else None
        result, count = use_case.import_stream(conn, ctx.project, rows, checker, options, log)
        if not count:
            raise ApiError(400, "The data being imported is empty or was not provided")
    if audit is not None:
        audit.records = result.records
    return import_response(ctx, result.records, result.id_map)


def delete_records(ctx: ApiContext) -> Response:
    """Delete Records: whole records, or (``event``, ``instrument``, ``repeat_instance``) some
    of their values, or (``arm``) their rows in one arm (:mod:`localcap.model.record_delete`)."""
    ctx.require("record_delete", NO_DELETE)
    records = ctx.request.list("records") or []
    if not records:
        raise ApiError(400, "The parameter 'records' is missing")
    params = [ctx.request.get(name).strip() for name in DELETE_NARROWING]
    if ctx.audit is not None:
        ctx.audit.records = list(records)
    with ctx.write_transaction() as conn:
        request = delete_request(ctx.project, records, *params)  # the design as of the lock
        plan, released = carry_out_delete(conn, ctx.project, request, ctx.group_id)
    for key in released:
        delete_bytes(ctx, key)
    if ctx.audit is not None:
        ctx.audit.changes = plan.changes(ctx.project)
    return Response(str(plan.count), media_type="text/plain")


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
