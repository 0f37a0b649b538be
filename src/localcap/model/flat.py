"""From stored rows to REDCap's flat rows: the column and row rules of reports and Export Records.

Columns: record ID; ``redcap_event_name`` (longitudinal); ``redcap_repeat_instrument`` and
``redcap_repeat_instance`` (projects with repeating instruments or events);
``redcap_data_access_group`` (when asked for, for users in no DAG); ``redcap_survey_identifier``
(survey fields); then the fields, checkboxes expanded to one column per option.

A stored row is one (record, event, repeat instrument, instance). A column has a value on a
row only when its instrument belongs there: designated for the event (longitudinal), and
repeating exactly as the row does. A repeating instrument's row carries only that
instrument's fields.

Two ways to a row's cells, the same cells either way: a row read packed (model/rows.py) has
its cells taken with one ``itemgetter`` per (kind of row, layout), the few computed cells
applied to the cell text; any other row looks its values up in ``row.data``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

from localcap.model.project import (
    CLASSIC_EVENT_ID,
    FORM_STATUS_LABELS,
    Field,
    Project,
    checkbox_column,
    strip_tags,
)
from localcap.model.rights import Rights, allowed_export_fields, survey_fields_allowed
from localcap.model.rows import BLANK_CELL, UNCHECKED_CELL, Layout, StoredRow, cells_getter

Cell = str | Callable[[dict[str, Any]], str]
#: A cell text -> the exported value (labels, file names, decimal commas, gray status).
Transform = Callable[[str], str]


class Plan(NamedTuple):
    keys: list[str]
    specials: list[tuple[int, Callable[[dict[str, Any]], str]]]
    relevant_keys: frozenset[str]


class Source(NamedTuple):
    """Where a field cell of a packed row comes from: the stored value of ``name`` (or its
    checkbox option ``code``), then ``transform``. None for a cell that needs the whole row
    (combined checkboxes): rows are then read through ``row.data``."""

    name: str
    code: str | None = None
    transform: Transform | None = None


class PackedPlan(NamedTuple):
    """How to fill the field cells of packed rows of one kind and layout."""

    cells: Callable[[list[str]], tuple[str, ...]]
    transforms: list[tuple[int, Transform]]
    #: Cells whose value makes the row worth exporting; checkbox options (any "1").
    relevant_values: list[int]
    relevant_options: Callable[[list[str]], tuple[str, ...]]


#: Values that never need CSV quoting, and the validations whose values are such.
PLAIN = re.compile(r"^[A-Za-z0-9._:+-]*$")
PLAIN_VALIDATIONS = frozenset(
    {
        "integer",
        "int",
        "number",
        "float",
        "number_1dp",
        "number_2dp",
        "number_3dp",
        "number_4dp",
        "date_ymd",
        "date_mdy",
        "date_dmy",
        "time",
        "time_hh_mm_ss",
        "time_mm_ss",
        "zipcode",
        "mrn_6d",
        "mrn_10d",
        "vmrn",
        "ssn",
        "alpha_only",
    }
)
#: A key no stored row holds: cells that must stay blank look it up.
NEVER_A_FIELD = "\x00"

RECORD_COLUMNS_LABELS = {
    "redcap_event_name": "Event Name",
    "redcap_repeat_instrument": "Repeat Instrument",
    "redcap_repeat_instance": "Repeat Instance",
    "redcap_data_access_group": "Data Access Group",
    "redcap_survey_identifier": "Survey Identifier",
}


@dataclass
class FlatOptions:
    """How a flat export is shaped; the defaults are REDCap's."""

    raw_or_label: str = "raw"
    label_headers: bool = False
    checkbox_labels: bool = False
    export_dags: bool = False
    export_survey_fields: bool = False
    decimal_character: str = ""
    #: Export Records shows a file field's file name; reports show ``[document]``.
    documents_as_placeholder: bool = False
    remove_line_breaks: bool = False
    combine_checkboxes: bool = False
    blank_for_gray_status: bool = False
    doc_names: Mapping[str, str] = field(default_factory=dict)
    #: Reports always start with the record ID and its event/repeat columns. Export Records
    #: shows them only when the record ID field is among the fields asked for (all fields,
    #: or ``fields``/``forms`` that include it): REDCap leaves them out otherwise, as PyCap's
    #: ``_backfill_fields`` and REDCapR's recorded ``specify-fields-without-record-id``
    #: expectation show.
    record_id_always: bool = True

    @property
    def labels(self) -> bool:
        return self.raw_or_label == "label"


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    form: str | None  # None: an automatic column


def clean_line_breaks(value: str) -> str:
    """REDCap's "remove line breaks in values": a CRLF and a lone LF each become two spaces
    (REDCapR recorded ``St.\nKenning`` from Export Records as ``St.  Kenning`` in a report); a
    lone CR, unconfirmed, becomes one space; ``"`` becomes ``'``."""
    if "\r" in value or "\n" in value:
        value = value.replace("\r\n", "  ").replace("\n", "  ").replace("\r", " ")
    if '"' in value:
        value = value.replace('"', "'")
    return value


def clean_row(values: list[Any]) -> None:
    """Line-break removal over a whole row (only rows whose stored values need it)."""
    for i, value in enumerate(values):
        if value.__class__ is str:
            values[i] = clean_line_breaks(value)


def convert_decimal(value: str, character: str) -> str:
    if not character or not value:
        return value
    other = "," if character == "." else "."
    return value.replace(other, character)


class FlatExport:
    """Builds the header and the cells of each output row for one export request."""

    def __init__(
        self,
        project: Project,
        rights: Rights,
        user_group_id: int | None,
        fields: Sequence[str],
        options: FlatOptions,
    ) -> None:
        self.project = project
        self.options = options
        #: Every field the user may see (also what a report may sort this user's rows by).
        self.allowed = allowed = allowed_export_fields(project, rights)
        record_id = project.record_id_field
        self.fields = [name for name in fields if name in allowed and name != record_id]
        self.with_keys = options.record_id_always or record_id in fields
        #: Export Records: REDCap keeps the record ID on every event row holding data, so
        #: asking for it lists each such row (REDCapR recorded 18 rows, one per event with
        #: data, for its longitudinal project's ID plus one form only some events hold).
        #: A report always carries the ID and still leaves out rows its fields leave blank.
        self.id_asked = record_id in fields and not options.record_id_always
        self.columns: list[Column] = []
        if self.with_keys:
            self.columns.append(
                Column(record_id, self._field_label(record_id), project.form_of(record_id))
            )
            if project.is_longitudinal:
                self.columns.append(self._auto("redcap_event_name"))
            if project.has_repeating:
                self.columns.append(self._auto("redcap_repeat_instrument"))
                self.columns.append(self._auto("redcap_repeat_instance"))
        self.with_dag = options.export_dags and user_group_id is None
        if self.with_dag:
            self.columns.append(self._auto("redcap_data_access_group"))
        survey_forms = {
            f.form_name
            for f in project.forms
            if f.survey_enabled and survey_fields_allowed(rights, f.form_name)
        }
        self.with_survey = options.export_survey_fields and bool(survey_forms)
        if self.with_survey:
            self.columns.append(self._auto("redcap_survey_identifier"))
        self._field_cells: list[tuple[Column, Cell]] = []
        self._sources: list[Source | None] = []
        timestamped: set[str] = set()
        for name in self.fields:
            form = project.form_of(name)
            if self.with_survey and form in survey_forms and form not in timestamped:
                timestamped.add(form)
                column = Column(f"{form}_timestamp", "Survey Timestamp", form)
                self._field_cells.append((column, f"{form}_timestamp"))
                self._sources.append(Source(f"{form}_timestamp"))
            for column, cell, source in self._cells_for(name):
                self._field_cells.append((column, cell))
                self._sources.append(source)
        self.columns.extend(c for c, _ in self._field_cells)
        self.relevant_forms = {c.form for c, _ in self._field_cells if c.form}
        self._plans: dict[tuple[int, str], Plan] = {}
        self._packed_plans: dict[tuple[int, str, str], PackedPlan | None] = {}
        #: Rows produced so far (the audit log records an export's row count).
        self.rows_emitted = 0

    # -- header -----------------------------------------------------------------------------
    def _auto(self, name: str) -> Column:
        return Column(name, RECORD_COLUMNS_LABELS[name], None)

    def _field_label(self, name: str) -> str:
        f = self.project.field_by_name.get(name)
        if f is not None:
            return strip_tags(f.field_label)
        return "Complete?"

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def label_header(self) -> list[str]:
        return [c.label for c in self.columns]

    def plain_columns(self) -> list[int]:
        """Columns whose values are made only of characters CSV never quotes (codes, numbers,
        dates, unique names): a speed hint for the CSV writer, which still checks them."""
        opts = self.options
        automatic_plain = {"redcap_repeat_instance"}
        if not opts.labels:
            automatic_plain |= {
                "redcap_event_name",
                "redcap_repeat_instrument",
                "redcap_data_access_group",
            }
        plain = [
            i for i, c in enumerate(self.columns) if c.form is None and c.name in automatic_plain
        ]
        if opts.labels:
            return plain
        offset = len(self.columns) - len(self._field_cells)
        for index, (column, _) in enumerate(self._field_cells):
            if self._is_plain(column):
                plain.append(offset + index)
        return plain

    def _is_plain(self, column: Column) -> bool:
        project, opts = self.project, self.options
        if column.name in project.complete_fields:
            return True
        f = project.field_by_name.get(column.name)
        if f is None:  # a checkbox option column (raw 0/1) or a survey timestamp
            return "___" in column.name and not opts.combine_checkboxes
        if f.field_type in ("radio", "dropdown", "yesno", "truefalse"):
            return all(PLAIN.match(code) for code in f.choices)
        if f.field_type == "slider":
            return True
        return (
            f.field_type == "text"
            and f.validation in PLAIN_VALIDATIONS
            and opts.decimal_character != ","
        )

    # -- cells ------------------------------------------------------------------------------
    def _cells_for(self, name: str) -> list[tuple[Column, Cell, Source | None]]:
        """The columns of one field, each with its cell for ``row.data`` and its source in a
        packed row."""
        project, opts = self.project, self.options
        f = project.field_by_name.get(name)
        if f is None:  # <form>_complete
            form = project.complete_fields[name]
            status = self._status_transform()
            return [
                (
                    Column(name, "Complete?", form),
                    _from_data(name, status),
                    Source(name, None, status),
                )
            ]
        column = Column(name, strip_tags(f.field_label), f.form_name)
        if f.field_type == "checkbox":
            if opts.combine_checkboxes:
                return [(column, self._combined_checkbox_cell(f), None)]
            return [
                (
                    Column(
                        checkbox_column(name, code),
                        f"{strip_tags(f.field_label)} (choice={strip_tags(label)})",
                        f.form_name,
                    ),
                    self._checkbox_cell(name, code, label),
                    Source(name, code, self._option_transform(label)),
                )
                for code, label in f.choices.items()
            ]
        transform = self._value_transform(f)
        if transform is None:
            return [(column, name, Source(name))]
        return [(column, _from_data(name, transform), Source(name, None, transform))]

    def _status_transform(self) -> Transform:
        labels, gray = self.options.labels, "" if self.options.blank_for_gray_status else "0"

        def transform(value: str) -> str:
            value = value or gray
            return FORM_STATUS_LABELS.get(value, value) if labels and value else value

        return transform

    def _checkbox_texts(self, label: str) -> tuple[str, str]:
        """A checkbox option's (checked, unchecked) texts."""
        opts = self.options
        if not opts.labels:
            return "1", "0"
        if opts.checkbox_labels:
            return label, ""
        return "Checked", "Unchecked"

    def _checkbox_cell(self, name: str, code: str, label: str) -> Cell:
        on, off = self._checkbox_texts(label)

        def cell(data: dict[str, Any]) -> str:
            return on if code in (data.get(name) or ()) else off

        return cell

    def _option_transform(self, label: str) -> Transform | None:
        """A packed option cell is "1" or "0": raw exports show it as it is."""
        on, off = self._checkbox_texts(label)
        if (on, off) == ("1", "0"):
            return None
        return lambda value: on if value == "1" else off

    def _combined_checkbox_cell(self, f: Field) -> Cell:
        labels, choices = self.options.labels, f.choices

        def cell(data: dict[str, Any]) -> str:
            checked = data.get(f.field_name) or ()
            codes = [code for code in choices if code in checked]
            return ",".join(choices[c] if labels else c for c in codes)

        return cell

    def _value_transform(self, f: Field) -> Transform | None:
        """What an exported value is made of its stored text (None: the text itself)."""
        opts = self.options
        if f.field_type == "file":
            if opts.documents_as_placeholder:
                return lambda value: "[document]" if value else ""
            names = opts.doc_names
            return lambda value: names.get(value, "") if value else ""
        if opts.labels and f.choices:
            choices = f.choices
            return lambda value: choices.get(value, value)
        if opts.decimal_character and f.is_numeric:
            char = opts.decimal_character
            return lambda value: convert_decimal(value, char)
        return None

    # -- rows -------------------------------------------------------------------------------
    def valid_forms(self, event_id: int, repeat_instrument: str) -> set[str]:
        """The instruments whose values belong on rows of this kind."""
        project = self.project
        in_event = set(project.forms_in_event(event_id))
        if repeat_instrument:
            return {repeat_instrument} & in_event
        if project.is_repeating_event(event_id):
            return in_event
        return {f for f in in_event if not project.is_repeating_form(event_id, f)}

    def _plan(self, event_id: int, repeat_instrument: str) -> Plan:
        """How to fill the field cells of rows of this kind, and which stored keys make such a
        row worth exporting.

        Most cells are a plain lookup of the stored value, done for the whole row at C speed
        with ``map(data.get, keys)``; cells of instruments that do not belong on this kind of
        row look up a key that never exists. The few computed cells (checkboxes, labels, file
        names, decimal conversion) are patched in afterwards.
        """
        key = (event_id, repeat_instrument)
        plan = self._plans.get(key)
        if plan is None:
            valid = self.valid_forms(event_id, repeat_instrument)
            keys: list[str] = []
            specials: list[tuple[int, Callable[[dict[str, Any]], str]]] = []
            for index, (column, cell) in enumerate(self._field_cells):
                if column.form not in valid:
                    keys.append(NEVER_A_FIELD)
                elif isinstance(cell, str):
                    keys.append(cell)
                else:
                    keys.append(NEVER_A_FIELD)
                    specials.append((index, cell))
            relevant = valid & self.relevant_forms
            project = self.project
            # REDCap stores the record ID on every row it keeps: a row holding only the ID
            # (a record imported into an event with no values) is still a row. A repeating
            # instrument's row belongs to that instrument alone: when it is not asked for
            # (``fields=record_id``), the row is left out (redcapAPI's suite: a file put into
            # a repeating instrument adds no row to such an export).
            id_keys = [] if repeat_instrument and not relevant else [project.record_id_field]
            relevant_keys = frozenset(
                [f.field_name for form in relevant for f in project.form_fields.get(form, [])]
                + [f"{form}_complete" for form in relevant]
                + id_keys
            )
            plan = self._plans[key] = Plan(keys, specials, relevant_keys)
        return plan

    def has_relevant_data(self, row: StoredRow) -> bool:
        """Rows whose requested instruments hold nothing here are left out, as REDCap does,
        unless the record ID is asked for: then every row of an event holding data is in (a
        repeating instrument's instances still need data of the requested instruments)."""
        if not self.relevant_forms or (self.id_asked and not row.repeat_instrument):
            # (a packed row is never empty: an empty row is deleted, not stored)
            return row.packed() is not None or bool(row.data)
        packed = row.packed()
        plan = packed and self._packed_plan(row.event_id, row.repeat_instrument, packed[0])
        if plan:
            cells = packed[1]  # type: ignore[index]
            for index in plan.relevant_values:
                if cells[index]:
                    return True
            return "1" in plan.relevant_options(cells)
        return not self._plan(row.event_id, row.repeat_instrument).relevant_keys.isdisjoint(
            row.data
        )

    def _packed_plan(
        self, event_id: int, repeat_instrument: str, layout: Layout
    ) -> PackedPlan | None:
        """:meth:`_plan` for packed rows of one layout: the cell index of every field cell
        (a column not in the layout, or not on this kind of row, takes a blank or an
        unchecked cell), the transforms, the relevant cells. None when the layout and the
        design disagree on what a field is (a text field now a checkbox, or the reverse) or a
        cell needs the whole row: such rows are read through ``row.data``, as before."""
        key = (event_id, repeat_instrument, layout.layout_id)
        try:
            return self._packed_plans[key]
        except KeyError:
            plan = self._make_packed_plan(event_id, repeat_instrument, layout)
            self._packed_plans[key] = plan
            return plan

    def _make_packed_plan(
        self, event_id: int, repeat_instrument: str, layout: Layout
    ) -> PackedPlan | None:
        valid = self.valid_forms(event_id, repeat_instrument)
        checkbox_fields = {name for name, _ in layout.option_index}
        indices: list[int] = []
        transforms: list[tuple[int, Transform]] = []
        for position, ((column, _), source) in enumerate(
            zip(self._field_cells, self._sources, strict=True)
        ):
            if source is None:
                return None
            if source.code is None:
                if source.name in checkbox_fields:
                    return None
                index = layout.value_index.get(source.name, BLANK_CELL)
            else:
                if source.name in layout.value_index:
                    return None
                index = layout.option_index.get((source.name, source.code), UNCHECKED_CELL)
            if column.form not in valid:
                indices.append(BLANK_CELL)
                continue
            indices.append(index)
            if source.transform is not None:
                transforms.append((position, source.transform))
        relevant = self._plan(event_id, repeat_instrument).relevant_keys
        values = [i for name, i in layout.value_index.items() if name in relevant]
        values.sort(key=lambda i: i != layout.value_index.get(self.project.record_id_field))
        options = [i for (name, _), i in layout.option_index.items() if name in relevant]
        return PackedPlan(cells_getter(indices), transforms, values, cells_getter(options))

    def _key_values(self, row: StoredRow, values: list[Any]) -> None:
        """The record ID, event and repeat cells of one row."""
        project, opts = self.project, self.options
        values.append(row.record)
        if project.is_longitudinal:
            event = project.event_by_id.get(row.event_id)
            if event is None:
                values.append("")
            else:
                values.append(
                    project.event_label(event) if opts.labels else event.unique_event_name
                )
        if project.has_repeating:
            repeats = bool(row.repeat_instrument) or project.is_repeating_event(row.event_id)
            instrument = row.repeat_instrument
            if instrument and opts.labels:
                instrument = project.form_by_name[instrument].form_label
            values.append(instrument)
            values.append(row.instance if repeats else "")

    def row_values(self, row: StoredRow) -> list[Any]:
        """The cells of one output row, in header order (repeat instance as an int)."""
        project, opts = self.project, self.options
        values: list[Any] = []
        if self.with_keys:
            self._key_values(row, values)
        if self.with_dag:
            dag = project.dag_by_id.get(row.group_id) if row.group_id else None
            values.append((dag.group_name if opts.labels else dag.unique_name) if dag else "")
        if self.with_survey:
            values.append("")
        offset = len(values)
        packed = row.packed()
        plan = packed and self._packed_plan(row.event_id, row.repeat_instrument, packed[0])
        if plan:
            assert packed is not None
            values.extend(plan.cells(packed[1]))
            for index, transform in plan.transforms:
                values[offset + index] = transform(values[offset + index])
        else:
            data = row.data
            keys, specials, _ = self._plan(row.event_id, row.repeat_instrument)
            values.extend(map(data.get, keys, repeat("", len(keys))))
            for index, cell in specials:
                values[offset + index] = cell(data)
        if self.options.remove_line_breaks and row.has_breaks_or_quotes:
            clean_row(values)
        return values

    def rows(self, stored: Iterable[StoredRow]) -> Iterable[list[Any]]:
        """The output rows. When no instrument is asked for (``fields=record_id`` alone),
        repeating instruments' rows are left out and each record's event is listed once, as
        REDCap does: redcapAPI's suite counts such an export before and after putting a
        file into an existing record's repeating instrument and expects the same count (and
        one row more for a new record). An event holding only repeating instruments' rows
        still gets its one row."""
        ids_only = not self.relevant_forms
        listed: tuple[str, int] | None = None
        for row in stored:
            if ids_only and row.repeat_instrument:
                if listed == (row.record, row.event_id):
                    continue
                row = StoredRow(row.record, row.event_id, "", 1, {}, row.group_id, False)
            elif not self.has_relevant_data(row):
                continue
            if not row.repeat_instrument:
                listed = (row.record, row.event_id)
            self.rows_emitted += 1
            yield self.row_values(row)


def _from_data(name: str, transform: Transform) -> Callable[[dict[str, Any]], str]:
    """A cell of ``row.data``: the stored value of ``name`` ("" when none), transformed."""
    return lambda data: transform(data.get(name, ""))


def export_field_order(
    project: Project, fields: Sequence[str] | None, forms: Sequence[str] | None
) -> list[str]:
    """Export Records' fields: dictionary order, whatever order they were asked in."""
    everything = list(project.iter_export_fields())
    if not fields and not forms:
        return everything
    wanted = set(fields or ())
    wanted_forms = set(forms or ())
    return [name for name in everything if name in wanted or project.form_of(name) in wanted_forms]


__all__ = ["CLASSIC_EVENT_ID", "FlatExport", "FlatOptions", "export_field_order"]
