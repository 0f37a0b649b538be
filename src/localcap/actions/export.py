"""The export use case: reading what an :class:`~localcap.model.selection.ExportSelection`
names from one read snapshot, for Export Records, Export Reports, Export PDF and Export
Project XML.

Every export reads its rows (and the file names or documents it shows) from one snapshot held
for the whole export, so that it sees every record as of one moment however long the client
takes to read it (docs/ARCHITECTURE.md, "Transactions and isolation").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from localcap.db import documents as docs
from localcap.db import surveys as survey_store
from localcap.db.records import iter_rows
from localcap.db.reports import list_reports
from localcap.db.roles import Role, list_roles
from localcap.db.transactions import read_snapshot
from localcap.model.project import Project
from localcap.model.rows import StoredRow
from localcap.model.selection import ExportSelection
from localcap.model.surveys import Survey
from localcap.reports.definition import ReportDefinition


def has_file_fields(project: Project) -> bool:
    return any(f.field_type == "file" for f in project.fields)


def stored_rows(
    engine: Engine, selection: ExportSelection, doc_names: dict[str, str] | None = None
) -> Iterator[StoredRow]:
    """Stream the stored rows of the selection's records, events and DAGs in REDCap's order,
    from one read snapshot. ``doc_names``, when given, is filled (doc_id -> file name) from
    the same snapshot before the first row, if the project has file fields."""
    project = selection.project
    with read_snapshot(engine) as conn:
        if doc_names is not None and has_file_fields(project):
            doc_names.update(docs.document_names(conn, project.project_id))
        yield from iter_rows(
            conn,
            project,
            selection.records,
            selection.read_group_ids,
            selection.event_ids,
            selection.changed,
        )


def selected_rows(
    engine: Engine, selection: ExportSelection, doc_names: dict[str, str] | None = None
) -> Iterable[StoredRow]:
    """:func:`stored_rows` with the selection's filter logic applied."""
    return selection.filtered(stored_rows(engine, selection, doc_names))


@dataclass
class ProjectParts:
    """What a project XML holds beside the design and the records."""

    reports: list[ReportDefinition]
    surveys: dict[str, Survey]
    survey_queue: list[tuple[int, str, dict[str, Any]]]
    roles: list[Role]
    #: doc_id -> document, when the file fields' files are embedded (else empty).
    documents: dict[str, docs.Document]


def project_parts(engine: Engine, project: Project, with_files: bool) -> ProjectParts:
    """Reports, surveys, the survey queue, roles and (``with_files``) documents, from one
    snapshot."""
    pid = project.project_id
    with read_snapshot(engine) as conn:
        return ProjectParts(
            reports=list_reports(conn, pid),
            surveys=survey_store.load_surveys(conn, pid),
            survey_queue=survey_store.load_queue(conn, pid),
            roles=list_roles(conn, pid),
            documents=(
                docs.project_documents(conn, pid) if with_files and has_file_fields(project) else {}
            ),
        )
