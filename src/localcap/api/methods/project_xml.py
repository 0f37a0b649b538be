"""Export Project XML (``content=project_xml``) and Create Project from a project XML (``odm``).

Create Project with ``odm`` is how PyCap's and REDCapR's test suites build their projects and
how users bring a real REDCap project over: ``data`` still gives the title and purpose, the
XML everything else (see :mod:`localcap.projectxml.importer`). The ``odm`` value may be a form
field (what PyCap and curl ``--data-urlencode`` send) or, for big files, a multipart upload
named ``odm`` (streamed from disk, never read into memory at once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from starlette.responses import PlainTextResponse, Response, StreamingResponse

from localcap.actions.export import project_parts, selected_rows
from localcap.api.context import ApiContext
from localcap.api.dispatch import method
from localcap.api.errors import NO_PERMISSION, ApiError
from localcap.api.methods.common import audit_creation, export_selection, open_export
from localcap.projectxml.exporter import ExportContext, ExportOptions, write_project_xml
from localcap.projectxml.importer import import_project_xml
from localcap.projectxml.safexml import ProjectXmlError

log = logging.getLogger("localcap")
CHUNK = 1 << 20


def _odm_chunks(ctx: ApiContext) -> Iterator[bytes]:
    upload = ctx.request.files.get("odm")
    if upload is not None:
        upload.file.seek(0)
        while chunk := upload.file.read(CHUNK):
            yield chunk
        return
    data = ctx.request.get("odm").encode("utf-8")
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def create_project_from_odm(ctx: ApiContext, title: str, info: dict[str, Any]) -> Response:
    """Create Project's ``odm`` branch: one transaction; any problem is a 400 and nothing is
    created (the importer also deletes file bytes it stored before failing)."""
    if not ctx.is_super:
        raise ApiError(403, NO_PERMISSION)
    try:
        with ctx.engine.begin() as conn:
            result = import_project_xml(
                conn,
                ctx.state.file_store,
                _odm_chunks(ctx),
                username=ctx.username,
                title=title,
                info=info,
            )
    except ProjectXmlError as exc:
        raise ApiError(400, f"The project XML (odm) cannot be imported: {exc}") from None
    for warning in result.warnings:
        log.warning("project %s created from XML: %s", result.project_id, warning)
    audit_creation(ctx, result.project_id, "Create project from a REDCap project XML")
    return PlainTextResponse(result.token)


@method("project_xml", "export")
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
