"""Applying REDCap logic (report filters, Export Records' filterLogic) to stored rows.

Rows stream in record order, so one record at a time is gathered into a logic context: that is
what lets ``[event][field]`` and ``[field][instance]`` references see the record's other rows
while memory stays bounded by the largest record.

A filter is a question about values, so it must only read values its author may export:
:func:`unexportable_fields` names the ones it may not (see docs/RIGHTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby

from localcap.logic import CompiledLogic, DictContext, FieldSpec, LogicSyntaxError, compile_logic
from localcap.model.errors import DomainError
from localcap.model.project import Project
from localcap.model.rights import Rights, allowed_export_fields
from localcap.model.rows import StoredRow


class FilterError(DomainError):
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


def unexportable_fields(project: Project, rights: Rights, names: Iterable[str]) -> list[str]:
    """The fields among ``names`` the user's export rights remove, in dictionary order.

    A filter (or sort) the user writes on such a field answers yes/no questions about values
    the user may not see: 15 ``[dob] <= "..."`` bisection requests recover a date of birth.
    The answer depends only on the names and the rights, never on the data, so refusing with
    it tells the caller nothing the data dictionary does not."""
    allowed = allowed_export_fields(project, rights)
    hidden = set(names) - allowed
    order = {name: i for i, name in enumerate(project.field_by_name)}
    order.update({name: len(order) + i for i, name in enumerate(project.complete_fields)})
    return sorted(hidden, key=lambda name: (order.get(name, len(order)), name))


def event_names(project: Project) -> dict[int, str | None]:
    """event_id -> the unique event name logic uses (None everywhere in a classic project)."""
    longitudinal = project.is_longitudinal
    return {e.event_id: e.unique_event_name if longitudinal else None for e in project.events}


def record_context(
    project: Project,
    record: str,
    rows: Sequence[StoredRow],
    *,
    user: str = "",
    user_dag: str = "",
    group_id: int | None = None,
) -> DictContext:
    """One record's stored rows as a logic context (``[event][field]``, ``[field][n]`` and the
    record/DAG smart variables see all of them); point ``event``/``instance`` at a row after."""
    names = event_names(project)
    ctx = DictContext(record=record, user=user, user_dag=user_dag)
    for row in rows:
        key = (names.get(row.event_id), row.instance)
        ctx.rows.setdefault(key, {}).update(row.data)
        ctx.rows[key].setdefault(project.record_id_field, record)
    if group_id is None and rows:
        group_id = rows[0].group_id
    dag = project.dag_by_id.get(group_id) if group_id else None
    ctx.dag = dag.unique_name if dag else ""
    return ctx


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
    names = event_names(project)
    for record, group in groupby(rows, key=lambda r: r.record):
        record_rows = list(group)
        ctx = record_context(project, record, record_rows, user=user, user_dag=user_dag)
        kept = []
        for row in record_rows:
            ctx.event = names.get(row.event_id)
            ctx.repeat_instrument = row.repeat_instrument
            ctx.instance = row.instance
            if logic.matches(ctx):
                kept.append(row)
        if whole_record and kept:
            yield from record_rows
        else:
            yield from kept
