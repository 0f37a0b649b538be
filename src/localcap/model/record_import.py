"""Import Records, the domain half: check a submission, and merge a change into a row.

All-or-nothing: every problem is collected and reported in REDCap's style
(``"record","field","value","message"`` lines) before anything is written. Writing the
checked plan is the use case :mod:`localcap.actions.import_records`; nothing here touches
the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import Any, cast

from localcap.model.errors import DomainError, NotPermitted
from localcap.model.numbers import small_int
from localcap.model.project import CLASSIC_EVENT_ID, Field, Project, checkbox_column
from localcap.model.record_names import record_name_problem
from localcap.model.row_plans import CHECKBOX_OPTION, Row, RowPlan, Rule, column_rule
from localcap.model.rows import StoredRow
from localcap.model.validation import validation_message, validity_check, value_is_valid

SPECIAL = (
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
)
#: Repeat instances are database integers: anything beyond is an input error.
MAX_INSTANCE = 2**31 - 1
TIMESTAMP = re.compile(r"^[a-z][a-z0-9_]*_timestamp$")


class RecordImportError(DomainError):
    """The submission cannot be imported; ``message`` says why, naming every problem."""


class AccessRefused(RecordImportError):
    """The submission names records the caller may not write; ``records`` lists them all
    (a streamed import gathers them batch after batch: :meth:`joined`)."""

    def __init__(self, records: Sequence[str]) -> None:
        self.records = list(dict.fromkeys(records))
        super().__init__(self.WORDS + ", ".join(self.records))

    WORDS = ""

    def joined(self, other: AccessRefused | None) -> AccessRefused:
        """This refusal with the records of a later one of the same kind."""
        if other is None or type(other) is not type(self):
            return self
        return type(self)(self.records + other.records)


class OtherGroupRecords(AccessRefused):
    """A caller in a Data Access Group names records of another group."""

    WORDS = "You are in a Data Access Group and these records belong to another group: "


class CreateNotPermitted(AccessRefused, NotPermitted):
    """The submission would create records and the caller may not create any."""

    WORDS = "You do not have Create Records privileges, so these records cannot be created: "


@dataclass
class RowChange:
    """The values one submitted row sets on one stored row."""

    record: str
    event_id: int
    repeat_instrument: str
    instance: int | str  # "new": the next free instance
    values: dict[str, str] = field(default_factory=dict)
    #: (checkbox field, option code) -> "1", "0" or "" of each submitted option column.
    checkboxes: dict[tuple[str, str], str] = field(default_factory=dict)
    dag: str | None = None  # unique DAG name, "" to unassign, None to leave as is


@dataclass
class ImportPlan:
    changes: list[RowChange]
    records: list[str]  # distinct, in order of first appearance


def _text_row(row: dict[str, Any]) -> dict[str, str]:
    """A submitted row with text values (a JSON number or null as text; a CSV row as it is)."""
    try:
        "".join(row.values())
    except TypeError:
        return {k: "" if v is None else str(v) for k, v in row.items()}
    return row


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _error_line(record: str, name: str, value: str, message: str) -> str:
    return ",".join(_quote(x) for x in (record, name, value, message))


def convert_date(value: str, validation: str, date_format: str) -> str:
    """``dateFormat`` MDY/DMY lets clients send dates as 12/31/2024; stored as Y-M-D."""
    if date_format not in ("MDY", "DMY") or not validation.startswith(("date_", "datetime_")):
        return value
    match = re.match(r"^(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4})(.*)$", value)
    if not match:
        return value
    first, second, year, rest = match.groups()
    month, day = (first, second) if date_format == "MDY" else (second, first)
    return f"{year}-{int(month):02d}-{int(day):02d}{rest}"


def unknown_fields_message(names: Iterable[str]) -> str:
    return "The following fields were not found in the project as real data fields: " + (
        ", ".join(sorted(names))
    )


class ImportChecker:
    """Validates submitted flat rows against the project; collects every error."""

    def __init__(
        self, project: Project, date_format: str = "YMD", keep_invalid: bool = False
    ) -> None:
        self.project = project
        self.date_format = date_format.upper()
        #: Keep values that fail their field's validation or choices instead of refusing them
        #: (a project XML from REDCap may hold such values, entered before a validation was
        #: added, and REDCap imports them); each kept one is listed in :attr:`kept_invalid`.
        self.keep_invalid = keep_invalid
        self.kept_invalid: list[str] = []
        self.columns: dict[str, tuple[Field | None, str | None, str]] = {}
        for f in project.fields:
            if not f.has_data:
                continue
            if f.field_type == "checkbox":
                for code in f.choices:
                    self.columns[checkbox_column(f.field_name, code)] = (f, code, f.form_name)
            else:
                self.columns[f.field_name] = (f, None, f.form_name)
        for form in project.forms:
            self.columns[form.complete_field] = (None, None, form.form_name)
        #: For each column whose values :meth:`_check_value` may store as they are, a
        #: predicate that says when it would (a choice code, a valid number...): most values
        #: are then taken without the call.
        self._plain = {
            name: accept
            for name, (f, code, _) in self.columns.items()
            if f is not None and code is None and (accept := self._acceptor(f)) is not None
        }
        self._fitting: dict[tuple[int, str], frozenset[str]] = {}
        #: Row plans by columns, then by (event_id, repeat instrument, rows given as lists);
        #: the last columns looked up and theirs.
        self._row_plans: dict[tuple[str, ...], dict[tuple[int, str, bool], RowPlan]] = {}
        self._last_keys: tuple[str, ...] | None = None
        self._last_plans: dict[tuple[int, str, bool], RowPlan] = {}
        self.errors: list[str] = []

    def check(self, rows: Sequence[dict[str, Any]], group_id: int | None) -> ImportPlan:
        """The plan of a whole submission; RecordImportError naming every problem."""
        unknown = self.unknown_fields(rows)
        if unknown:
            raise RecordImportError(unknown_fields_message(unknown))
        plan = self.plan(rows, group_id)
        if self.errors:
            raise RecordImportError("\n".join(self.errors))
        return plan

    def unknown_fields(
        self, rows: Iterable[dict[str, Any]], columns: tuple[str, ...] | None = None
    ) -> set[str]:
        """The columns of these rows that are no data field of the project (looked at once
        per set of columns: the rows of a CSV share theirs). ``columns``: the columns every
        row has (:meth:`plan`)."""
        record_field = self.project.record_id_field
        unknown: set[str] = set()
        for keys in {columns} if columns is not None else {tuple(row) for row in rows}:
            unknown.update(
                key
                for key in keys
                if key not in self.columns
                and key not in SPECIAL
                and key != record_field
                and not TIMESTAMP.match(key)
            )
        return unknown

    def plan(
        self,
        rows: Iterable[dict[str, Any]] | Iterable[list[str]],
        group_id: int | None,
        columns: tuple[str, ...] | None = None,
    ) -> ImportPlan:
        """The changes of these rows; their problems are added to :attr:`errors` (a streamed
        import checks its batches one after the other and refuses them all at the end).

        Rows are dicts (column -> value), or, given ``columns`` (distinct names), lists of
        text values in the order of these columns (a CSV's rows:
        :class:`localcap.formats.streaming.DataRows`): no row's keys need looking at, and
        no dict is built for a row whose values all pass their bulk checks."""
        record_field = self.project.record_id_field
        checked: Iterable[RowChange | None]
        if columns is not None:  # (lists: their special columns are looked up by name)
            heads = self._heads(columns)
            checked = (
                self._check_row(
                    {name: values[at] for name, at in heads},
                    record_field,
                    group_id,
                    columns,
                    values,
                )
                for values in cast(Iterable[list[str]], rows)
            )
        else:
            checked = (
                self._check_row(row, record_field, group_id, tuple(row), None)
                for row in map(_text_row, cast(Iterable[dict[str, Any]], rows))
            )
        changes: list[RowChange] = []
        records: dict[str, None] = {}
        for change in checked:
            if change is not None:
                changes.append(change)
                records.setdefault(change.record, None)
        return ImportPlan(changes, list(records))

    def _heads(self, columns: tuple[str, ...]) -> list[tuple[str, int]]:
        """(name, index) of the columns that :meth:`_check_row` looks up by name."""
        wanted = {self.project.record_id_field, *SPECIAL}
        return [(name, at) for at, name in enumerate(columns) if name in wanted]

    def _fail(self, record: str, name: str, value: str, message: str) -> None:
        """Note one problem of the submission; the caller then stops checking that row."""
        self.errors.append(_error_line(record, name, value, message))

    def _check_row(
        self,
        row: dict[str, str],
        record_field: str,
        group_id: int | None,
        keys: tuple[str, ...],
        values: list[str] | None,
    ) -> RowChange | None:
        """One row's change, or None once a problem with its record, event, repeat instance
        or DAG is noted (its values are then not checked: they would only repeat it).
        ``keys``: the row's columns; ``values``: for a row given as a list, its values (and
        ``row`` then holds its special columns only)."""
        record = self._record_of(row, record_field)
        if record is None:
            return None
        event_name = row.get("redcap_event_name", "").strip()
        event_id = self._event_of(record, event_name)
        if event_id is None:
            return None
        instrument = row.get("redcap_repeat_instrument", "").strip()
        instance = self._instance_of(row, record, event_id, instrument)
        if instance is None:
            return None
        change = RowChange(record, event_id, instrument, instance)
        if "redcap_data_access_group" in row and not self._check_dag(
            change, row["redcap_data_access_group"].strip(), group_id
        ):
            return None
        self._check_values(
            change, row if values is None else values, record_field, event_name, keys
        )
        return change

    def _record_of(self, row: dict[str, str], record_field: str) -> str | None:
        record = row.get(record_field, "").strip()
        if not record:
            message = f"The record ID field ({record_field}) is missing or blank"
            self._fail("", record_field, "", message)
            return None
        problem = record_name_problem(record)
        if problem:
            self._fail(record[:40] + "...", record_field, "", problem)
            return None
        return record

    def _event_of(self, record: str, event_name: str) -> int | None:
        """The row's event: a classic project has one; a longitudinal row without a
        ``redcap_event_name`` goes to the first event, as REDCap does."""
        project = self.project
        if not project.is_longitudinal:
            return CLASSIC_EVENT_ID
        if not event_name:
            if not project.events:
                self._fail(record, "redcap_event_name", "", "The project has no events")
                return None
            return project.events[0].event_id
        if event_name not in project.event_by_name:
            message = f"The event name '{event_name}' is not valid"
            self._fail(record, "redcap_event_name", event_name, message)
            return None
        return project.event_by_name[event_name].event_id

    def _instance_of(
        self, row: dict[str, str], record: str, event_id: int, instrument: str
    ) -> int | str | None:
        """The repeat instance: 1 outside repeats, ``"new"`` for the next free one."""
        if instrument and not self.project.is_repeating_form(event_id, instrument):
            message = f"The instrument '{instrument}' is not a repeating instrument here"
            self._fail(record, "redcap_repeat_instrument", instrument, message)
            return None
        instance_text = row.get("redcap_repeat_instance", "").strip()
        if not (instrument or self.project.is_repeating_event(event_id)) or not instance_text:
            return 1
        if instance_text.lower() == "new":
            return "new"
        number = small_int(instance_text, MAX_INSTANCE, minimum=1)
        if number is None:
            message = "The repeat instance must be a positive integer or 'new'"
            self._fail(record, "redcap_repeat_instance", instance_text, message)
        return number

    def _check_dag(self, change: RowChange, dag: str, group_id: int | None) -> bool:
        """A caller in a DAG may only name its own; others may name any existing DAG or
        none (``""`` unassigns the record)."""
        project = self.project
        record = change.record
        if group_id is not None:
            own = project.dag_by_id[group_id].unique_name if group_id in project.dag_by_id else ""
            if dag and dag != own:
                message = (
                    "You are in a Data Access Group and cannot assign records to another group"
                )
                self._fail(record, "redcap_data_access_group", dag, message)
                return False
            return True  # a DAG user's records stay in its DAG: change.dag is left unset
        if dag and dag not in project.dag_by_name:
            message = f"The data access group '{dag}' does not exist"
            self._fail(record, "redcap_data_access_group", dag, message)
            return False
        change.dag = dag
        return True

    def _check_values(
        self,
        change: RowChange,
        row: Row,
        record_field: str,
        event_name: str,
        keys: tuple[str, ...],
    ) -> None:
        """Each value must be on an instrument of the row's event, and on the row's repeating
        instrument exactly when its instrument repeats (a repeating event takes any).
        ``row``: a dict, or a list of the values of ``keys``."""
        project = self.project
        record, event_id, instrument = change.record, change.event_id, change.repeat_instrument
        in_event = set(project.forms_in_event(event_id))
        fitting = self._fitting_forms(event_id, instrument)
        plain, values = self._plain, change.values
        listed = row.__class__ is list
        bulk = self._row_plan(keys, event_id, instrument, listed)
        taken = bulk.values_of(row)
        items: dict[str, str]
        if taken is not None:  # most rows: every value taken at C speed
            values.update(zip(bulk.names, taken, strict=False))  # (the boxes follow)
            if bulk.options:
                change.checkboxes.update(bulk.checkboxes_of(row))
            items = bulk.rest_of(row)
        else:
            items = dict(zip(keys, row, strict=True)) if listed else row  # type: ignore[arg-type]
        for key, value in items.items():
            column = self.columns.get(key)
            if column is None or key == record_field:
                continue
            f, code, form = column
            if form in fitting or value == "":
                accept = plain.get(key)
                if accept is not None and accept(value):  # most values: taken as they are
                    values[key] = value
                elif code is not None and value in ("0", "1", ""):
                    change.checkboxes[(f.field_name, code)] = value  # type: ignore[union-attr]
                else:
                    self._check_value(change, record, key, value, f, code)
                continue
            if form not in in_event:
                message = (
                    f"The field '{key}' is on the instrument '{form}', "
                    f"which is not designated for the event '{event_name}'"
                )
                self._fail(record, key, value, message)
                continue
            # in the event, so it does not repeat as the row does
            message = (
                f"The field '{key}' is on the repeating instrument '{form}': give redcap_repeat_instrument and redcap_repeat_instance"
                if project.is_repeating_form(event_id, form)
                else f"The field '{key}' is not on the repeating instrument '{instrument}'"
            )
            self._fail(record, key, value, message)

    def _row_plan(
        self, keys: tuple[str, ...], event_id: int, instrument: str, listed: bool
    ) -> RowPlan:
        """The bulk check (:class:`~localcap.model.row_plans.RowPlan`) of rows with these
        columns, of this event and repeating instrument (``listed``: rows given as lists of
        the columns' values): the values of instruments that fit the row and have a bulk
        rule; the other columns are checked one by one. Cached: the rows of a CSV share their
        columns, and most share the rest (the same tuple of columns given again is
        recognised without hashing its few hundred names again)."""
        if keys is not self._last_keys:
            plans = self._row_plans.get(keys)
            if plans is None:
                plans = {}
                if len(self._row_plans) < 64:  # JSON items may each have their own keys
                    self._row_plans[keys] = plans
            self._last_keys, self._last_plans = keys, plans
        plans = self._last_plans
        found = plans.get((event_id, instrument, listed))
        if found is not None:
            return found
        fitting = self._fitting_forms(event_id, instrument)
        record_field = self.project.record_id_field
        values: list[tuple[str, Rule]] = []
        boxes: dict[str, list[tuple[str, str]]] = {}
        rest: list[str] = []
        for key in keys:
            f, code, form = self.columns.get(key, (None, None, ""))
            rule = None
            if f is not None and form in fitting and key != record_field:
                rule = CHECKBOX_OPTION if code is not None else column_rule(f, self.date_format)
            if rule is None:
                rest.append(key)
            elif code is not None:
                boxes.setdefault(f.field_name, []).append((code, key))  # type: ignore[union-attr]
            else:
                values.append((key, rule))
        positions = {name: at for at, name in enumerate(keys)} if listed else None
        found = plans[(event_id, instrument, listed)] = RowPlan(values, boxes, rest, positions)
        return found

    def _acceptor(self, f: Field) -> Callable[[str], object] | None:
        if f.choices:
            return f.choices.__contains__  # a valid code is stored as it is
        if f.field_type not in ("text", "notes"):
            return None
        if not f.validation:
            return bool  # any text (a blank too: it is stored as "")
        if f.validation.startswith(("date_", "datetime_")) and self.date_format != "YMD":
            return None  # converted before it is stored
        return validity_check(f.validation)

    def _fitting_forms(self, event_id: int, instrument: str) -> frozenset[str]:
        """The instruments whose values a row of this event and repeating instrument may
        hold (designated for the event, and repeating exactly as the row does, or any in a
        repeating event): :meth:`_check_values` looks no further for those."""
        key = (event_id, instrument)
        found = self._fitting.get(key)
        if found is None:
            project = self.project
            repeating_event = project.is_repeating_event(event_id)
            found = self._fitting[key] = frozenset(
                form
                for form in project.forms_in_event(event_id)
                if repeating_event
                or project.is_repeating_form(event_id, form) == (form == instrument)
            )
        return found

    def _check_value(
        self,
        change: RowChange,
        record: str,
        key: str,
        value: str,
        f: Field | None,
        code: str | None,
    ) -> None:
        value = value.strip() if f is None or f.field_type not in ("text", "notes") else value
        if f is None:  # form status
            if value not in ("", "0", "1", "2"):
                self.errors.append(
                    _error_line(record, key, value, "The value must be 0, 1 or 2 (form status)")
                )
                return
            change.values[key] = value
            return
        if code is not None:  # one checkbox option
            if value not in ("", "0", "1"):
                self.errors.append(
                    _error_line(
                        record, key, value, f"The value is not a valid category for {f.field_name}"
                    )
                )
                return
            change.checkboxes[(f.field_name, code)] = value
            return
        if f.field_type == "file":
            # Ignored, as REDCap does: REDCapR writes an exported data frame back with its
            # "[document]" placeholders, and real REDCap accepts it and leaves the files alone.
            return
        problem = ""
        if value and f.choices and value not in f.choices:
            problem = f"The value is not a valid category for {f.field_name}"
        elif value and f.field_type == "text" and f.validation:
            value = convert_date(value, f.validation, self.date_format)
            if not value_is_valid(f.validation, value):
                problem = validation_message(f.field_name, f.validation)
        elif value and f.field_type == "slider" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
            problem = f"The value for the slider '{f.field_name}' must be a number"
        if problem:
            line = _error_line(record, key, value, problem)
            if not self.keep_invalid:
                self.errors.append(line)
                return
            self.kept_invalid.append(line)
        change.values[key] = value


def apply_change(row: StoredRow, change: RowChange, overwrite: bool, project: Project) -> None:
    """Merge one change into a stored row (normal: blanks never erase; overwrite: they do).

    Whole-row steps at C speed (a bulk import merges a few hundred values per row): the
    non-blank values in one ``update``, the checked options of a row that held nothing
    picked with one ``compress``, the statuses of the instruments now holding data from one
    set operation per instrument. A row that held nothing takes a change without blanks as
    its data (the change is spent once applied: its values are not copied but the row's)."""
    data = row.data
    fresh = not data  # (most rows of a bulk import: nothing to merge with)
    values = change.values
    if "" not in values.values():
        if fresh:
            data = row.data = values
        else:
            data.update(values)
    else:
        if overwrite:
            for name in [name for name, value in values.items() if not value]:
                data.pop(name, None)
        data.update(filter(itemgetter(1), values.items()))
    if change.checkboxes:
        if fresh:
            data.update(_checked(change.checkboxes, project))
        else:
            _merge_checkboxes(data, change.checkboxes, overwrite, project)
    # An instrument that now holds data gets a status: Incomplete unless one was given.
    # (A key view's isdisjoint walks the smaller side, the instrument's names, and stops at
    # the first one the row holds.)
    keys = data.keys()
    for status, names in project.data_fields_by_status:
        if status not in data and not keys.isdisjoint(names):
            data[status] = "0"
    if not data:
        # A record imported with its ID alone (or blanked) still exists, as in REDCap.
        data[project.record_id_field] = change.record


def _checked(options: dict[tuple[str, str], str], project: Project) -> dict[str, list[str]]:
    """Each checkbox's checked codes, in choice order, when nothing was stored before."""
    on = list(compress(options, map("1".__eq__, options.values())))
    on.sort(key=project.option_rank.__getitem__)
    checked: dict[str, list[str]] = {}
    for name, code in on:
        checked.setdefault(name, []).append(code)
    return checked


def _merge_checkboxes(
    data: dict[str, Any], options: dict[tuple[str, str], str], overwrite: bool, project: Project
) -> None:
    """Apply submitted options ("1", "0", "") to the stored checked codes, kept in choice
    order (a stored code no longer among the choices last)."""
    by_field: dict[str, list[tuple[str, str]]] = {}
    for (name, code), value in options.items():
        by_field.setdefault(name, []).append((code, value))
    for name, submitted in by_field.items():
        checked = list(data.get(name) or [])
        for code, value in submitted:
            if value == "1" and code not in checked:
                checked.append(code)
            elif value == "0" or (value == "" and overwrite):
                checked = [c for c in checked if c != code]
        rank = project.choice_ranks.get(name, {})
        checked.sort(key=lambda code: rank.get(code, len(rank)))
        if checked:
            data[name] = checked
        else:
            data.pop(name, None)
