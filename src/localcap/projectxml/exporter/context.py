"""What an export is made from: the checked options, the caller's context (rights, DAG,
documents) and the values derived from them once for the whole document.

The derived values (:class:`ExportScope`) are computed once so that every part agrees: the
head's time stamp and the metadata OID the clinical data refers to, the fields the user may
export, whether DAGs and survey fields are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from localcap.db.documents import Document
from localcap.db.roles import Role
from localcap.model.project import (
    Project,
)
from localcap.model.rights import Rights, allowed_export_fields, survey_fields_allowed
from localcap.model.surveys import Survey
from localcap.projectxml.exporter.xmltext import oid_name
from localcap.reports.definition import ReportDefinition


@dataclass
class ExportOptions:
    """The parameters of Export Project XML, already checked."""

    metadata_only: bool = False
    fields: set[str] | None = None
    survey_fields: bool = False
    dags: bool = False
    files: bool = False


@dataclass
class ExportContext:
    project: Project
    rights: Rights
    group_id: int | None
    reports: Sequence[ReportDefinition]
    options: ExportOptions
    #: doc_id value -> document (None when it is not one of this project's)
    document: Callable[[str], Document | None]
    #: store key -> byte chunks
    open_file: Callable[[str], Iterator[bytes]]
    now: datetime | None = None
    #: Survey settings by form, and survey queue entries (event_id, form, settings).
    surveys: dict[str, Survey] = dataclass_field(default_factory=dict)
    survey_queue: Sequence[tuple[int, str, dict[str, Any]]] = ()
    #: The project's user roles (written in ``<redcap:UserRolesGroup>``).
    roles: Sequence[Role] = ()


class ExportScope:
    """The values every part of the document derives from the context."""

    def __init__(self, ctx: ExportContext) -> None:
        self.ctx = ctx
        self.project = ctx.project
        p = self.project
        self.name = oid_name(p.project_title)
        now = ctx.now or datetime.now()
        self.stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
        self.metadata_oid = f"Metadata.{self.name}_{now:%Y-%m-%d_%H%M}"
        self.allowed = allowed_export_fields(p, ctx.rights)
        if ctx.options.fields is not None:
            self.allowed &= ctx.options.fields | {p.record_id_field}
        self.with_dags = ctx.options.dags and ctx.group_id is None
        self.survey_forms = {
            f.form_name
            for f in p.forms
            if f.survey_enabled
            and ctx.options.survey_fields
            and survey_fields_allowed(ctx.rights, f.form_name)
        }


class ScopedWriter:
    """A part of the document, written from one shared :class:`ExportScope`."""

    def __init__(self, scope: ExportScope) -> None:
        self.scope = scope
        self.ctx = scope.ctx
        self.project = scope.project
