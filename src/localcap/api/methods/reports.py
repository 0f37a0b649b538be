"""Export Reports (``content=report``), plus localcap's report import/list extension."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from sqlalchemy import Connection
from starlette.responses import Response, StreamingResponse

from localcap.api.context import ApiContext
from localcap.api.errors import HIDDEN_REPORT_FIELDS, NO_ACCESS_EXPORT, ApiError
from localcap.api.methods.common import MAX_ID, count_response, list_response, require_design
from localcap.api.methods.records import audit_export, flat_options, stream_flat
from localcap.db import records as rows_store
from localcap.db.reports import list_reports, load_report, save_reports
from localcap.db.roles import role_name
from localcap.formats.odm import write_odm
from localcap.formats.parsers import DataParseError, check_json_text
from localcap.model.filtering import compile_filter, unexportable_fields
from localcap.model.numbers import small_int
from localcap.model.rights import has_any_export_access
from localcap.model.rows import StoredRow
from localcap.reports.definition import ReportDefinition, ReportDefinitionError
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


def _report_rows(
    ctx: ApiContext, event_ids: list[int] | None, group_ids: list[int] | None
) -> Iterator[StoredRow]:
    """The stored rows a report reads. ``group_ids`` is already the report's DAG filter
    intersected with the user's own DAG (possibly empty: a site B user's view of a site A
    report holds nothing), so it must not be replaced by the user's DAG."""
    with ctx.read_snapshot() as conn:  # one state of the data for the whole export
        yield from rows_store.iter_rows(conn, ctx.project, None, group_ids, event_ids)


def export_report(ctx: ApiContext) -> Response:
    ctx.require_export()
    project, rights = ctx.project, ctx.rights
    if not has_any_export_access(project, rights):
        raise ApiError(403, NO_ACCESS_EXPORT)
    report_id = ctx.request.get("report_id").strip()
    number = small_int(report_id, MAX_ID)
    if number is None:
        raise _not_in_project(report_id)
    with ctx.read_snapshot() as conn:
        found = load_report(conn, number)
        if found is None or found[0] != project.project_id:
            raise _not_in_project(report_id)
        definition = found[1]
        visible = _visible(ctx, conn, [definition])[0]
    if not visible:
        raise ApiError(403, f'User "{ctx.username}" does not have access to this report.')
    if no_access(project, rights, definition):
        raise ApiError(403, NO_ACCESS_EXPORT)
    # Unknown fields can appear when the dictionary changed after the report was defined.
    definition.fields = [
        f for f in definition.fields if f in project.field_by_name or f in project.complete_fields
    ]
    plan = plan_report(
        project,
        rights,
        ctx.group_id,
        ctx.username,
        definition,
        flat_options(ctx),
        odm=ctx.format == "odm",
    )
    stored = _report_rows(ctx, plan.event_ids, plan.group_ids)
    rows = plan.rows(stored)
    if ctx.audit is not None:
        ctx.audit.report_id = int(report_id)
    audit_export(ctx, plan.export)
    if ctx.format == "odm":
        forms = [column.form for column in plan.export.columns]
        body = write_odm(project, plan.export.header, rows, forms)
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
    try:
        check_json_text(data, "The report definitions")
    except DataParseError as exc:
        raise ApiError(400, str(exc)) from None
    try:
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
    except ReportDefinitionError as exc:
        raise ApiError(400, str(exc)) from None
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
