"""Applying REDCap logic (report filters, Export Records' filterLogic) to stored rows.

Rows stream in record order, so one record at a time is gathered into a logic context: that is
what lets ``[event][field]`` and ``[field][instance]`` references see the record's other rows
while memory stays bounded by the largest record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby

from localcap.db.records import StoredRow
from localcap.logic import CompiledLogic, DictContext, FieldSpec, LogicSyntaxError, compile_logic
from localcap.model.project import Project


class FilterError(Exception):
    """The logic does not parse or names unknown fields/events; the message says where."""


def field_specs(project: Project) -> dict[str, FieldSpec]:
    specs = {
        f.field_name: FieldSpec(f.field_name, f.field_type, f.validation, dict(f.choices))
        for f in project.fields
    }
    for name in project.complete_fields:
        specs[name] = FieldSpec(
            name, "radio", "", {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
        )
    return specs


def compile_filter(project: Project, expression: str) -> CompiledLogic:
    try:
        return compile_logic(
            expression, field_specs(project), [e.unique_event_name for e in project.events]
        )
    except LogicSyntaxError as exc:
        raise FilterError(str(exc)) from None


def filter_rows(
    project: Project,
    rows: Iterable[StoredRow],
    logic: CompiledLogic,
    *,
    user: str = "",
    user_dag: str = "",
    whole_record: bool = False,
) -> Iterator[StoredRow]:
    """Keep the rows the logic is true for (``whole_record``: every row of a matching record)."""
    event_name = {e.event_id: e.unique_event_name for e in project.events}
    longitudinal = project.is_longitudinal
    for record, group in groupby(rows, key=lambda r: r.record):
        record_rows = list(group)
        ctx = DictContext(record=record, user=user, user_dag=user_dag)
        for row in record_rows:
            key = (event_name.get(row.event_id) if longitudinal else None, row.instance)
            ctx.rows.setdefault(key, {}).update(row.data)
            ctx.rows[key].setdefault(project.record_id_field, record)
        dag = project.dag_by_id.get(row.group_id) if (row := record_rows[0]).group_id else None
        ctx.dag = dag.unique_name if dag else ""
        kept = []
        for row in record_rows:
            ctx.event = event_name.get(row.event_id) if longitudinal else None
            ctx.repeat_instrument = row.repeat_instrument
            ctx.instance = row.instance
            if logic.matches(ctx):
                kept.append(row)
        if whole_record and kept:
            yield from record_rows
        else:
            yield from kept
