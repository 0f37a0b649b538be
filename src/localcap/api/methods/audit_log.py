"""Export Logging (``content=log``): the audit log, as REDCap's logging export shows it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.dispatch import method
from localcap.api.errors import ApiError
from localcap.api.methods.common import list_response
from localcap.db.audit import LogRow, read_entries

LOG_COLUMNS = ("timestamp", "username", "action", "details", "record")
LOG_TYPES = {
    "export",
    "manage",
    "user",
    "record",
    "record_add",
    "record_edit",
    "record_delete",
    "lock_record",
    "page_view",
}
NO_LOGGING = "You do not have permissions to use this method: Logging privileges are required"


def describe(row: LogRow) -> tuple[str, str]:
    """(action, details) in the words of REDCap's logging page."""
    shown = {
        k: v
        for k, v in row.params.items()
        if k not in ("content", "action", "format", "returnFormat")
    }
    details = f"content={row.content}, action={row.action}" + "".join(
        f", {k}={v}" for k, v in shown.items()
    )
    if row.row_count is not None:
        details += f", rows={row.row_count}"
    if row.status != 200:
        details += f", refused with status {row.status}"
    if row.description:
        details = f"{row.description} ({details})"
    if row.log_type == "export":
        return "Data export (API)", details
    if row.log_type == "record_delete":
        return "Delete record (API)", details
    if row.log_type in ("record_edit", "record_add"):
        return "Update record (API)", details
    return "Manage/Design ", details  # REDCap's own spelling, trailing space included


def _matches_type(row: LogRow, wanted: str) -> bool:
    if not wanted:
        return True
    if wanted == "record":
        return row.log_type.startswith("record")
    return row.log_type == wanted


def _time(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if len(value) == 16:  # REDCap's Y-m-d H:i
        value += ":00"
    return value


@method("log", "export")
def export_logging(ctx: ApiContext) -> Response:
    ctx.require_export()
    ctx.require("logging", NO_LOGGING)
    req = ctx.request
    wanted = req.get("logtype").strip()
    if wanted and wanted not in LOG_TYPES:
        raise ApiError(400, 'The value of the parameter "logtype" is not valid')
    record = req.get("record").strip()
    user = req.get("user").strip() or None
    if ctx.group_id is not None:
        user = ctx.username  # DAG-restricted users see their own calls only
    rows: list[dict[str, Any]] = []
    with ctx.read_snapshot() as conn:
        entries = read_entries(
            conn,
            ctx.proj.project_id,
            user,
            _time(req.get("beginTime")),
            _time(req.get("endTime")),
            newest_first=False,
        )
        for entry in entries:
            if not _matches_type(entry, wanted) or (record and record not in entry.records):
                continue
            action, details = describe(entry)
            for touched in entry.records if entry.log_type.startswith("record") else [""]:
                if record and touched != record:
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
    return list_response(ctx, rows, LOG_COLUMNS)
