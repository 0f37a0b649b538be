"""Export Project XML (``content=project_xml``); Create Project from a project XML is in
:mod:`localcap.api.methods.project`."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response, StreamingResponse

from localcap.api.context import ApiContext
from localcap.api.errors import NO_ACCESS_EXPORT, ApiError
from localcap.api.methods.records import requested_events, stored_rows, user_filter
from localcap.db import documents as docs
from localcap.db import schema as t
from localcap.db import surveys as survey_store
from localcap.db.reports import list_reports
from localcap.db.roles import list_roles
from localcap.model.filtering import filter_rows
from localcap.model.names import check_names
from localcap.model.rights import has_any_export_access
from localcap.projectxml.exporter import ExportContext, ExportOptions, write_project_xml


def export_project_xml(ctx: ApiContext) -> Response:
    ctx.require_export()
    project, rights = ctx.project, ctx.rights
    if not has_any_export_access(project, rights):
        raise ApiError(403, NO_ACCESS_EXPORT)
    req = ctx.request
    fields = req.list("fields")
    known = set(project.field_by_name) | set(project.complete_fields)
    check_names("fields", fields, known)
    logic = user_filter(ctx)
    options = ExportOptions(
        metadata_only=req.flag("returnMetadataOnly"),
        fields=set(fields) if fields else None,
        survey_fields=req.flag("exportSurveyFields"),
        dags=req.flag("exportDataAccessGroups"),
        files=req.flag("exportFiles"),
    )
    records = req.list("records")
    event_ids = requested_events(ctx)
    with ctx.read_snapshot() as conn:
        reports = list_reports(conn, project.project_id)
        surveys = survey_store.load_surveys(conn, project.project_id)
        survey_queue = survey_store.load_queue(conn, project.project_id)
        roles = list_roles(conn, project.project_id)
        documents = {}
        if options.files and any(f.field_type == "file" for f in project.fields):
            documents = {
                str(r.doc_id): docs.get_document(conn, project.project_id, r.doc_id)
                for r in conn.execute(
                    select(t.documents.c.doc_id).where(
                        t.documents.c.project_id == project.project_id
                    )
                )
            }
    store = ctx.state.file_store
    export = ExportContext(
        project=project,
        rights=rights,
        group_id=ctx.group_id,
        reports=reports,
        options=options,
        document=lambda value: documents.get(str(value).strip()),
        open_file=lambda key: store.open(key),
        surveys=surveys,
        survey_queue=survey_queue,
        roles=roles,
    )
    rows = stored_rows(ctx, records, event_ids) if not options.metadata_only else iter(())
    if logic is not None:
        dag = project.dag_by_id.get(ctx.group_id) if ctx.group_id else None
        rows = filter_rows(
            project, rows, logic, user=ctx.username, user_dag=dag.unique_name if dag else ""
        )
    return StreamingResponse(
        write_project_xml(export, rows), headers={"content-type": "text/xml; charset=utf-8"}
    )
