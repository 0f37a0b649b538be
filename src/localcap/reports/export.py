"""Exporting a report: its columns, its filters (events, DAGs, logic), its order, its rights."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from localcap.model.filtering import compile_filter, filter_rows
from localcap.model.flat import FlatExport, FlatOptions
from localcap.model.project import Project
from localcap.model.rights import NO_ACCESS, Rights
from localcap.model.rows import StoredRow
from localcap.reports.definition import OrderBy, ReportDefinition


@dataclass
class ReportPlan:
    """What the storage layer must read, and how to turn it into the report's rows."""

    export: FlatExport
    event_ids: list[int] | None
    group_ids: list[int] | None

    definition: ReportDefinition
    project: Project
    username: str
    user_dag: str

    def rows(self, stored: Iterable[StoredRow]) -> Iterator[list[Any]]:
        d = self.definition
        if d.filter_logic.strip():
            logic = compile_filter(self.project, d.filter_logic)
            stored = filter_rows(
                self.project,
                stored,
                logic,
                user=self.username,
                user_dag=self.user_dag,
                whole_record=d.filter_type == "RECORD",
            )
        # Sort keys on fields the user may not export are skipped: the row order would
        # otherwise rank hidden values (names, dates of birth) for the user.
        orders = [o for o in d.order_by if o.field in self.export.allowed]
        if orders:
            stored = sort_rows(self.project, list(stored), orders)
        return iter(self.export.rows(stored))


def no_access(project: Project, rights: Rights, definition: ReportDefinition) -> bool:
    """True when every instrument the report shows is No Access for the user."""
    forms = {project.form_of(name) for name in definition.fields} - {None}
    forms.discard(project.form_of(project.record_id_field))
    if not forms:
        forms = {f.form_name for f in project.forms}
    return all(rights.export_level(form) == NO_ACCESS for form in forms if form)


def plan_report(
    project: Project,
    rights: Rights,
    user_group_id: int | None,
    username: str,
    definition: ReportDefinition,
    options: FlatOptions,
    odm: bool = False,
) -> ReportPlan:
    options.documents_as_placeholder = True
    # "Remove line breaks in values" shapes csv/json/xml; ODM keeps values as stored.
    options.remove_line_breaks = definition.remove_line_breaks and not odm
    options.combine_checkboxes = definition.combine_checkbox_values
    options.export_dags = definition.output_dags
    options.export_survey_fields = definition.output_survey_fields
    export = FlatExport(project, rights, user_group_id, definition.fields, options)
    event_ids = (
        [project.event_by_name[e].event_id for e in definition.filter_events]
        if definition.filter_events and project.is_longitudinal
        else None
    )
    group_ids: list[int] | None = None
    if definition.filter_dags:
        group_ids = [project.dag_by_name[d].group_id for d in definition.filter_dags]
    if user_group_id is not None:
        group_ids = [g for g in (group_ids or [user_group_id]) if g == user_group_id]
    user_dag = (
        project.dag_by_id[user_group_id].unique_name if user_group_id in project.dag_by_id else ""
    )
    return ReportPlan(export, event_ids, group_ids, definition, project, username, user_dag)


def sort_rows(project: Project, rows: list[StoredRow], orders: list[OrderBy]) -> list[StoredRow]:
    """Order-by: numeric fields numerically, others as strings; blanks first; ties keep the
    default order (Python's sort is stable, so sort by the last key first)."""
    for order in reversed(orders):
        f = project.field_by_name.get(order.field)
        numeric = f is not None and f.is_numeric or order.field in project.complete_fields
        name = order.field

        def key(row: StoredRow, name: str = name, numeric: bool = numeric) -> tuple[Any, ...]:
            value = row.data.get(name, "")
            if value == "":
                return (0, 0.0, "")
            if numeric:
                try:
                    return (1, float(str(value).replace(",", ".")), "")
                except ValueError:
                    return (2, 0.0, str(value))
            return (1, 0.0, str(value))

        rows.sort(key=key, reverse=order.direction == "DESC")
    return rows
