"""Calculated fields: REDCap computes them on the server when data is saved, so localcap does.

REDCap works out a record's ``calc`` fields (the expression is the field's
``select_choices_or_calculations``) when a form or survey page is saved, and after Import
Records / the Data Import Tool for the records the import touched. Evidence (community
sources, not REDCap's own documentation): PyCap issue #271, a client importing inputs with
``import_records`` and finding plain calcs filled in (only some ``@CALCTEXT`` fields were not);
the Recalculate external module's README naming REDCap's "Update record (Auto calculation)"
log event; REDCapR and redcapAPI dropping calc columns before they write records. A project
XML's calc values are not kept; they are computed once its records are in, as REDCapR's
projects built from their XMLs on a real REDCap show (see docs/CLIENTS.md).

:class:`Calculator` compiles every calc expression once with the REDCap logic engine
(:mod:`localcap.logic`) and :meth:`Calculator.apply` recomputes one record's values row by
row, with the same logic context as Export Records' ``filterLogic``
(:func:`localcap.model.filtering.record_context`: ``[event][field]``, ``[field][n]``, the
record and instance smart variables).

Rules, and the decisions where REDCap's behaviour is not documented:

* Only the calcs that the fields written affect are computed (directly, through other calcs,
  or a value imported into the calc itself): a record's other calcs keep their values, and a
  form the save did not touch gets no value (``if([bmi] >= 30, 1, 0)`` would otherwise put a
  ``0`` on every record). A calc reading another event's value is affected all the same.
* A calc is computed on the stored rows where its instrument belongs: the events it is
  designated for; on a repeating instrument, each of its instances; on a repeating event, each
  instance of the event; otherwise the event's non-repeating row. Rows that do not exist are
  not created (an event with no data gets no calculated value).
* Calcs using other calcs are computed after them (dependency order; fields in a cycle in
  dictionary order).
* Blank operands make arithmetic blank, aggregates (``sum``, ``mean``...) skip blanks, a
  blank condition takes ``if()``'s false branch: the logic engine's rules (reference doc
  §2.2). A result that is not a number (text, blank, division by zero) stores nothing; a
  true/false result stores 1/0.
* Numbers are stored as PHP (REDCap's server side) prints a float by default, precision 14
  (*unconfirmed* for REDCap's stored calc values): at most 14 significant digits, integers without ``.0`` (``round(x,1)`` gives ``59.2``, ``1/3`` gives
  ``0.33333333333333``, ``0.1+0.2`` gives ``0.3``); never in exponent form.
* A value imported into a calc field directly is accepted (REDCapR imports blank calc
  columns without error) and then recalculated over: the computed value wins. Whether REDCap
  refuses a non-blank one is not known; redcapAPI strips calc columns before importing.
* An expression localcap cannot compile (a smart variable or function it does not know) or
  that fails while evaluating leaves the stored value as it is, never a wrong number; it is
  logged once per project, field and expression.
* ``[user-name]`` and the other user smart variables read blank: a save is not tied to a
  user here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING

from localcap.logic import CompiledLogic
from localcap.logic.values import parse_number
from localcap.model.filtering import FilterError, compile_filter, event_names, record_context
from localcap.model.project import Field, Project
from localcap.model.rows import StoredRow

if TYPE_CHECKING:
    from localcap.model.record_import import RowChange

log = logging.getLogger(__name__)
_reported: set[tuple[int, str, str]] = set()


def _report_once(project: Project, f: Field, problem: str) -> None:
    key = (project.project_id, f.field_name, f.select_choices_or_calculations)
    if key not in _reported:
        _reported.add(key)
        log.warning(
            "project %s: calculated field %s is not computed (%s); stored values are kept",
            project.project_id,
            f.field_name,
            problem,
        )


def format_calc(value: object) -> str:
    """The stored text of a calc result ('' when it is not a number)."""
    if value is True or value is False:
        return "1" if value else "0"
    if isinstance(value, str):
        number = parse_number(value) if value else None
        if number is None:
            return ""
        value = number
    if not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    text = f"{float(value):.14g}"
    if "e" in text:  # PHP prints 1.0E-5; a stored number never needs an exponent
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class _Calc:
    field: Field
    logic: CompiledLogic


class Calculator:
    """One project's calc fields, compiled once, in the order they must be computed."""

    def __init__(self, project: Project) -> None:
        self.project = project
        compiled: dict[str, _Calc] = {}
        for f in project.fields:
            if f.field_type != "calc":
                continue
            try:
                compiled[f.field_name] = _Calc(
                    f, compile_filter(project, f.select_choices_or_calculations)
                )
            except FilterError as exc:
                _report_once(project, f, str(exc))
        self.calcs = _dependency_order(compiled)
        self._events = event_names(project)

    def __bool__(self) -> bool:
        return bool(self.calcs)

    def _rows_for(self, f: Field, rows: Sequence[StoredRow]) -> Iterator[StoredRow]:
        project = self.project
        form = f.form_name
        for row in rows:
            if form not in project.forms_in_event(row.event_id):
                continue
            if project.is_repeating_form(row.event_id, form):
                if row.repeat_instrument == form:
                    yield row
            elif row.repeat_instrument == "" and (
                row.instance == 1 or project.is_repeating_event(row.event_id)
            ):
                yield row

    def apply(
        self, record: str, rows: Sequence[StoredRow], written: Collection[str]
    ) -> set[tuple[int, str, int]]:
        """Recompute the calc values in ``rows`` (all of the record's stored rows, changed in
        place) that depend on the fields ``written``, or are among them; returns the keys of
        the rows whose data changed."""
        changed: set[tuple[int, str, int]] = set()
        if not self.calcs or not rows:
            return changed
        affected = set(written)
        ctx = record_context(self.project, record, rows)
        for calc in self.calcs:
            name = calc.field.field_name
            if name not in affected and not (calc.logic.fields_referenced & affected):
                continue
            affected.add(name)
            for row in self._rows_for(calc.field, rows):
                ctx.event = self._events.get(row.event_id)
                ctx.repeat_instrument = row.repeat_instrument
                ctx.instance = row.instance
                try:
                    value = format_calc(calc.logic.evaluate(ctx))
                except Exception as exc:  # noqa: BLE001 - any engine failure keeps the value
                    _report_once(self.project, calc.field, f"{type(exc).__name__}: {exc}")
                    continue
                if value == (row.data.get(name) or ""):
                    continue
                if value:
                    row.data[name] = value
                    row.data.setdefault(f"{calc.field.form_name}_complete", "0")
                else:
                    row.data.pop(name, None)
                ctx.rows.setdefault((ctx.event, row.instance), {})[name] = value
                changed.add(row.key)
        return changed


def _dependency_order(calcs: dict[str, _Calc]) -> list[_Calc]:
    """Calcs after the calcs they read (dictionary order otherwise; a cycle in that order)."""
    ordered: list[_Calc] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name in visiting:
            return
        visiting.add(name)
        used_names = calcs[name].logic.fields_referenced
        for used in [n for n in calcs if n in used_names]:
            visit(used)
        visiting.discard(name)
        done.add(name)
        ordered.append(calcs[name])

    for name in calcs:
        visit(name)
    return ordered


def recalculate(
    project: Project, rows: Iterable[StoredRow], changes: Iterable[RowChange]
) -> set[tuple[str, int, str, int]]:
    """Recompute, in each record of ``rows`` (each record's complete set of stored rows), the
    calc fields that the fields the ``changes`` wrote affect; returns ``(record, event_id,
    repeat_instrument, instance)`` of the rows changed. (A project without calc fields costs
    nothing: what was written is only gathered when something may depend on it.)"""
    calculator = Calculator(project)
    if not calculator:
        return set()
    written: dict[str, set[str]] = {}
    for change in changes:
        names = written.setdefault(change.record, set())
        names.update(change.values, map(itemgetter(0), change.checkboxes))
    by_record: dict[str, list[StoredRow]] = {}
    for row in rows:
        if row.record in written:
            by_record.setdefault(row.record, []).append(row)
    return {
        (record, *key)
        for record, record_rows in by_record.items()
        for key in calculator.apply(record, record_rows, written[record])
    }
