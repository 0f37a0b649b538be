"""Export Reports (``content=report``), plus localcap's report import/list extension."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection
from starlette.responses import Response, StreamingResponse

from localcap.actions.export import stored_rows
from localcap.api.context import ApiContext
from localcap.api.errors import HIDDEN_REPORT_FIELDS, ApiError
from localcap.api.methods.common import (
    audit_export,
    count_response,
    list_response,
    new_selection,
    open_export,
    require_design,
    stream_flat,
)
from localcap.db.reports import list_reports, load_report, save_reports
from localcap.db.roles import role_name
from localcap.formats.odm import write_odm
from localcap.formats.parsers import check_json_text
from localcap.model.errors import NotPermitted
from localcap.model.filtering import compile_filter, unexportable_fields
from localcap.model.numbers import MAX_ID, small_int
from localcap.model.selection import NO_ACCESS_EXPORT
from localcap.reports.definition import ReportDefinition
from localcap.reports.export import no_access, plan_report


def _not_in_project(report_id: str) -> ApiError:
    return ApiError(
        403,
        f"The API request cannot complete because report_id={report_id} does not belong to this project.",
    )


def _user_dag(ctx: ApiContext) -> str:
    dag = ctx.project.dag_by_id.get(ctx.group_id) if ctx.group_id else None
    return dag.unique_name if dag else ""


def _visible(ctx: ApiContext, conn: Connection, reports: list[ReportDefinition]) -> list[bool]:
    """Whether the caller may see each report: REDCap limits a report to selected users,
    roles (by unique role name) and DAGs."""
    roles = (role_name(conn, ctx.role_id),) if ctx.role_id is not None else ()
    dag = _user_dag(ctx)
    return [r.visible_to(ctx.username, dag, roles) for r in reports]


def _visible_report(ctx: ApiContext, report_id: str) -> ReportDefinition:
    """The project's report ``report_id`` if the caller may see it (403s otherwise)."""
    number = small_int(report_id, MAX_ID)
    if number is None:
        raise _not_in_project(report_id)
    with ctx.read_snapshot() as conn:
        found = load_report(conn, number)
        if found is None or found[0] != ctx.project.project_id:
            raise _not_in_project(report_id)
        definition = found[1]
        visible = _visible(ctx, conn, [definition])[0]
    if not visible:
        raise ApiError(403, f'User "{ctx.username}" does not have access to this report.')
    return definition


def export_report(ctx: ApiContext) -> Response:
    open_export(ctx)
    report_id = ctx.request.get("report_id").strip()
    definition = _visible_report(ctx, report_id)
    if no_access(ctx.project, ctx.rights, definition):
        raise NotPermitted(NO_ACCESS_EXPORT)
    plan = plan_report(new_selection(ctx), definition, odm=ctx.format == "odm")
    # One state of the data for the whole export; a report's DAG filter is already the
    # caller's DAG's intersection (possibly empty), never replaced by it.
    rows = plan.rows(stored_rows(ctx.engine, plan.selection))
    if ctx.audit is not None:
        ctx.audit.report_id = int(report_id)
    audit_export(ctx, plan.export)
    if ctx.format == "odm":
        forms = [column.form for column in plan.export.columns]
        body = write_odm(ctx.project, plan.export.header, rows, forms)
        return StreamingResponse(body, headers={"content-type": "text/xml; charset=utf-8"})
    return stream_flat(ctx, plan.export, rows, ctx.format)


def _require_exportable(ctx: ApiContext, report: ReportDefinition) -> None:
    """A report the caller defines is the caller's own filter: its logic and its sort fields
    may only read fields the caller may export, as Export Records' ``filterLogic`` (else a
    De-Identified user with Design rights would bisect identifiers through report imports)."""
    parts = (
        (
            "filter_logic",
            compile_filter(ctx.project, report.filter_logic).fields_referenced
            if report.filter_logic.strip()
            else (),
        ),
        ("order_by", [order.field for order in report.order_by]),
    )
    for what, names in parts:
        hidden = unexportable_fields(ctx.project, ctx.rights, names)
        if hidden:
            raise ApiError(
                400,
                HIDDEN_REPORT_FIELDS.format(
                    title=report.title, what=what, fields=", ".join(hidden)
                ),
            )


def _check_reports(ctx: ApiContext, reports: list[ReportDefinition]) -> None:
    """Each report fits the design as :attr:`ctx.project` has it and reads only fields the
    caller may export."""
    for report in reports:
        report.validate(ctx.project)
        _require_exportable(ctx, report)


def import_reports(ctx: ApiContext) -> Response:
    require_design(ctx)
    try:
        data = orjson.loads(ctx.request.get("data") or "null")
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"The report definitions are not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ApiError(400, "Give the report definitions as a JSON list in the 'data' parameter")
    check_json_text(data, "The report definitions")
    reports = [ReportDefinition.from_json(item) for item in data]
    # Checked before the write lock (bad input is refused without waiting for it), and
    # again inside it if the design changed meanwhile: a field named may be gone, or newly
    # flagged an identifier this caller may not filter or sort on.
    _check_reports(ctx, reports)
    checked_against = ctx.project
    with ctx.write_transaction() as conn:
        if ctx.project is not checked_against:
            _check_reports(ctx, reports)
        ids = save_reports(conn, ctx.project.project_id, reports)
    if ctx.request.get("returnContent").strip().lower() == "ids":
        return Response(
            orjson.dumps(ids), headers={"content-type": "application/json; charset=utf-8"}
        )
    return count_response(ctx, len(ids))


def list_report_definitions(ctx: ApiContext) -> Response:
    ctx.require_export()
    with ctx.read_snapshot() as conn:
        every = list_reports(conn, ctx.project.project_id)
        reports = [r for r, ok in zip(every, _visible(ctx, conn, every), strict=True) if ok]
    if ctx.format == "json":
        return Response(
            orjson.dumps([r.to_json() for r in reports]),
            headers={"content-type": "application/json; charset=utf-8"},
        )
    rows = [
        {"report_id": r.report_id, "title": r.title, "fields": ",".join(r.fields)} for r in reports
    ]
    return list_response(ctx, rows, ("report_id", "title", "fields"))
