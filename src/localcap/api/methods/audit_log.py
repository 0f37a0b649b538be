"""Export Logging (``content=log``): the audit log, as REDCap's logging export shows it.

One row per record change (``Create record (API) 7``, ``field = 'value'`` details), per user
or role change, and one per other call; refused calls are listed too. ``details`` is built
only from localcap's own words and checked values, never from a request's raw parameters
(docs/AUDIT.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import list_response
from localcap.db import records as rows_store
from localcap.db.audit import LogRow, read_entries
from localcap.model.audit import (
    DATA_EXPORT,
    LOG_TYPES,
    MANAGE,
    change_log_type,
    describe_call,
    field_order,
    matches_log_type,
)
from localcap.model.rights import allowed_export_fields

LOG_COLUMNS = ("timestamp", "username", "action", "details", "record")
NO_LOGGING = "You do not have permissions to use this method: Logging privileges are required"
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?)?$")
#: Log types of entries stored before the changes column (one row per record).
_LEGACY_RECORD_ACTIONS = {
    "record_add": "Create record (API)",
    "record_edit": "Update record (API)",
    "record_delete": "Delete record (API)",
}


def export_details(row: LogRow) -> str:
    """REDCap's ``export_format: CSV, rawOrLabel: raw``, from checked values only."""
    fmt = str(row.params.get("format", "xml")).strip().lower()
    fmt = fmt if fmt in ("json", "csv", "xml", "odm") else "xml"
    raw = str(row.params.get("rawOrLabel", "raw")).strip().lower()
    raw = raw if raw in ("raw", "label") else "raw"
    details = f"export_format: {fmt.upper()}, rawOrLabel: {raw}"
    if str(row.params.get("type", "")).strip().lower() == "eav":
        details += ", type: eav"
    if row.report_id is not None:
        details += f", report_id: {int(row.report_id)}"
    if row.row_count is not None:
        details += f", rows: {int(row.row_count)}"
    if row.status == 499:
        details += ", incomplete: the client disconnected"
    return details


def log_rows(row: LogRow, allowed: set[str] | None = None) -> Iterator[tuple[str, str, str, str]]:
    """(log type, action, details, record) for each line one entry shows in REDCap's Logging;
    ``allowed``: the fields whose values the reader may see (None: all)."""
    described = row.description or describe_call(row.content, row.action)
    if not 200 <= row.status < 300 and row.status != 499:
        yield "manage", MANAGE, f"{described} refused (status {int(row.status)})", ""
    elif row.changes:
        for change in row.changes:
            action = f"{change.action} {change.record}" if change.record else change.action
            details = change.details_for(allowed)
            yield change_log_type(change.action), action, details, change.record
    elif row.log_type == "export":
        yield "export", DATA_EXPORT, export_details(row), ""
    elif row.log_type in _LEGACY_RECORD_ACTIONS:
        for record in row.records:
            yield (
                row.log_type,
                f"{_LEGACY_RECORD_ACTIONS[row.log_type]} {record}",
                described,
                record,
            )
    else:
        details = described
        if row.row_count is not None:
            details += f", rows: {int(row.row_count)}"
        # (a record call that changed nothing, e.g. an import of the values already stored,
        # is not a record change: Manage/Design)
        yield ("manage" if row.log_type == "record" else row.log_type), MANAGE, details, ""


def _time(ctx: ApiContext, name: str, end: bool) -> str | None:
    """REDCap's ``Y-m-d H:i`` (seconds and a bare date accepted); 400 for anything else.

    ``24:00`` is the next day's midnight, as PHP reads it: REDCapR's ``redcap_log_read`` asks
    for whole days with ``endTime=D 24:00`` (docs/CLIENTS.md)."""
    value = ctx.request.get(name).strip()
    if not value:
        return None
    invalid = ApiError(400, f'The value of the parameter "{name}" is not a valid date/time')
    match = _TIME.match(value)
    if not match:
        raise invalid
    day, minute, seconds = match.groups()
    try:
        if minute == "24:00" and float((seconds or ":0")[1:]) == 0:
            next_day = datetime.strptime(day, "%Y-%m-%d") + timedelta(days=1)
            day, minute = next_day.strftime("%Y-%m-%d"), "00:00"
        datetime.strptime(f"{day} {minute or '00:00'}", "%Y-%m-%d %H:%M")
    except ValueError:
        raise invalid from None
    if minute is None:
        return f"{day} 23:59:59" if end else f"{day} 00:00:00"
    return f"{day} {minute}{(seconds or (':59' if end else ':00'))[:3]}"


def export_logging(ctx: ApiContext) -> Response:
    ctx.require_export()
    ctx.require("logging", NO_LOGGING)
    req = ctx.request
    wanted = req.get("logtype").strip()
    if wanted and wanted not in LOG_TYPES:
        raise ApiError(400, 'The value of the parameter "logtype" is not valid')
    record = req.get("record").strip()
    user = req.get("user").strip() or None
    dag = req.get("dag").strip()
    if ctx.group_id is not None:
        user = ctx.username  # DAG-restricted users see their own calls only
    begin, end = _time(ctx, "beginTime", end=False), _time(ctx, "endTime", end=True)
    # The log is an export too: values of fields the reader may not export (identifiers for
    # a De-Identified user, forms without export rights) are shown as [hidden].
    allowed = allowed_export_fields(ctx.project, ctx.rights)
    everything = {f.field_name for f in ctx.project.fields} | {
        f.complete_field for f in ctx.project.forms
    }
    visible = None if everything <= allowed else allowed
    rows: list[dict[str, Any]] = []
    with ctx.read_snapshot() as conn:
        order = field_order(ctx.project)
        for entry in read_entries(
            conn,
            ctx.project.project_id,
            user,
            begin,
            end,
            newest_first=False,
            field_order=lambda _project_id: order,
        ):
            for log_type, action, details, touched in log_rows(entry, visible):
                if not matches_log_type(log_type, wanted) or (record and touched != record):
                    continue
                rows.append(
                    {
                        "timestamp": entry.ts[:16],
                        "username": entry.username,
                        "action": action,
                        "details": details,
                        "record": touched,
                    }
                )
        if dag:
            rows = _in_dag(conn, ctx, rows, dag)
    return list_response(ctx, rows, LOG_COLUMNS)


def _in_dag(
    conn: Any, ctx: ApiContext, rows: list[dict[str, Any]], dag: str
) -> list[dict[str, Any]]:
    """REDCap's "records in a DAG" filter: the rows of records now in that group. A name that
    is no group of the project (never created, or deleted since) filters nothing: redcapAPI's
    suite, run against REDCap, gets more than one row for a DAG its earlier test deleted."""
    group = ctx.project.dag_by_name.get(dag)
    if group is None:
        return rows
    names = {r["record"] for r in rows if r["record"]}
    groups = rows_store.existing_records(conn, ctx.project.project_id, names) if names else {}
    return [r for r in rows if r["record"] and groups.get(r["record"]) == group.group_id]
