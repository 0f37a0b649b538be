"""Export Project XML (``content=project_xml``); Create Project from a project XML is in
:mod:`localcap.api.methods.project`."""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse

from localcap.actions.export import project_parts, selected_rows
from localcap.api.context import ApiContext
from localcap.api.methods.common import export_selection, open_export
from localcap.projectxml.exporter import ExportContext, ExportOptions, write_project_xml


def export_project_xml(ctx: ApiContext) -> Response:
    open_export(ctx)
    selection = export_selection(ctx, forms=False)
    options = ExportOptions(
        metadata_only=ctx.request.flag("returnMetadataOnly"),
        fields=set(selection.fields) if selection.fields is not None else None,
        survey_fields=selection.options.export_survey_fields,
        dags=selection.options.export_dags,
        files=ctx.request.flag("exportFiles"),
    )
    parts = project_parts(ctx.engine, ctx.project, options.files)
    store = ctx.state.file_store
    export = ExportContext(
        project=ctx.project,
        rights=ctx.rights,
        group_id=ctx.group_id,
        reports=parts.reports,
        options=options,
        document=lambda value: parts.documents.get(str(value).strip()),
        open_file=lambda key: store.open(key),
        surveys=parts.surveys,
        survey_queue=parts.survey_queue,
        roles=parts.roles,
    )
    rows = selected_rows(ctx.engine, selection) if not options.metadata_only else iter(())
    return StreamingResponse(
        write_project_xml(export, rows), headers={"content-type": "text/xml; charset=utf-8"}
    )
