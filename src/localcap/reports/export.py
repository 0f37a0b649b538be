"""Exporting a report: its columns, its filters (events, DAGs, logic), its order, its rights."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from localcap.model.filtering import compile_filter
from localcap.model.flat import FlatExport
from localcap.model.project import Project
from localcap.model.rights import NO_ACCESS, Rights
from localcap.model.rows import StoredRow
from localcap.model.selection import ExportSelection
from localcap.reports.definition import OrderBy, ReportDefinition


@dataclass
class ReportPlan:
    """What the storage layer must read (:attr:`selection`), and how to turn it into the
    report's rows."""

    selection: ExportSelection
    export: FlatExport
    definition: ReportDefinition

    def rows(self, stored: Iterable[StoredRow]) -> Iterator[list[Any]]:
        stored = self.selection.filtered(stored)
        # Sort keys on fields the user may not export are skipped: the row order would
        # otherwise rank hidden values (names, dates of birth) for the user.
        orders = [o for o in self.definition.order_by if o.field in self.export.allowed]
        if orders:
            stored = sort_rows(self.selection.project, list(stored), orders)
        return iter(self.export.rows(stored))


def no_access(project: Project, rights: Rights, definition: ReportDefinition) -> bool:
    """True when every instrument the report shows is No Access for the user."""
    forms = {project.form_of(name) for name in definition.fields} - {None}
    forms.discard(project.form_of(project.record_id_field))
    if not forms:
        forms = {f.form_name for f in project.forms}
    return all(rights.export_level(form) == NO_ACCESS for form in forms if form)


def plan_report(
    selection: ExportSelection, definition: ReportDefinition, odm: bool = False
) -> ReportPlan:
    """The report ``definition`` applied to the caller's ``selection`` (which carries the
    request's shaping options): its fields, events, DAGs (within the caller's own DAG),
    filter logic and options. Raises :class:`~localcap.model.filtering.FilterError` when
    the stored logic no longer fits the design."""
    project, user_group_id = selection.project, selection.group_id
    # Unknown fields can appear when the dictionary changed after the report was defined.
    selection.fields = [
        f for f in definition.fields if f in project.field_by_name or f in project.complete_fields
    ]
    options = selection.options
    options.documents_as_placeholder = True
    # "Remove line breaks in values" shapes csv/json/xml; ODM keeps values as stored.
    options.remove_line_breaks = definition.remove_line_breaks and not odm
    options.combine_checkboxes = definition.combine_checkbox_values
    options.export_dags = definition.output_dags
    options.export_survey_fields = definition.output_survey_fields
    if definition.filter_events and project.is_longitudinal:
        selection.event_ids = [project.event_by_name[e].event_id for e in definition.filter_events]
    group_ids: list[int] | None = None
    if definition.filter_dags:
        group_ids = [project.dag_by_name[d].group_id for d in definition.filter_dags]
    if user_group_id is not None:
        group_ids = [g for g in (group_ids or [user_group_id]) if g == user_group_id]
    selection.group_ids = group_ids
    if definition.filter_logic.strip():
        selection.logic = compile_filter(project, definition.filter_logic)
        selection.whole_record = definition.filter_type == "RECORD"
    return ReportPlan(selection, selection.flat_export(), definition)


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
