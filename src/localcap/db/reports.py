"""Storing report definitions."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, insert, select, update

from localcap.db import schema as t
from localcap.reports.definition import ReportDefinition, ReportDefinitionError


def save_reports(conn: Connection, project_id: int, reports: list[ReportDefinition]) -> list[int]:
    """Insert or replace definitions; a given report_id is kept (it must not be another
    project's); a missing one is assigned."""
    ids = []
    for report in reports:
        if report.report_id is not None:
            owner = conn.execute(
                select(t.reports.c.project_id).where(t.reports.c.report_id == report.report_id)
            ).first()
            if owner is not None and owner.project_id != project_id:
                raise ReportDefinitionError(
                    f"report_id {report.report_id} belongs to another project: leave it out "
                    "to have one assigned"
                )
            payload = orjson.dumps(report.to_json()).decode()
            if owner is None:
                conn.execute(
                    insert(t.reports).values(
                        report_id=report.report_id,
                        project_id=project_id,
                        title=report.title,
                        unique_report_name=report.unique_report_name,
                        definition=payload,
                    )
                )
            else:
                conn.execute(
                    update(t.reports)
                    .where(t.reports.c.report_id == report.report_id)
                    .values(
                        title=report.title,
                        unique_report_name=report.unique_report_name,
                        definition=payload,
                    )
                )
        else:
            result = conn.execute(
                insert(t.reports).values(
                    project_id=project_id,
                    title=report.title,
                    unique_report_name=report.unique_report_name,
                    definition="{}",
                )
            )
            report.report_id = int(result.inserted_primary_key[0])
            conn.execute(
                update(t.reports)
                .where(t.reports.c.report_id == report.report_id)
                .values(definition=orjson.dumps(report.to_json()).decode())
            )
        ids.append(int(report.report_id))
    return ids


def load_report(conn: Connection, report_id: int) -> tuple[int, ReportDefinition] | None:
    row = conn.execute(select(t.reports).where(t.reports.c.report_id == report_id)).first()
    if row is None:
        return None
    definition = ReportDefinition.from_json(orjson.loads(row.definition))
    definition.report_id = row.report_id
    return row.project_id, definition


def list_reports(conn: Connection, project_id: int) -> list[ReportDefinition]:
    result = []
    for row in conn.execute(
        select(t.reports)
        .where(t.reports.c.project_id == project_id)
        .order_by(t.reports.c.report_id)
    ):
        definition = ReportDefinition.from_json(orjson.loads(row.definition))
        definition.report_id = row.report_id
        result.append(definition)
    return result
