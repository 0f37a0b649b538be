"""Import Records: validate a whole submission first, then merge it into stored rows.

All-or-nothing: every problem is collected and reported in REDCap's style
(``"record","field","value","message"`` lines) before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from localcap.db import records as store
from localcap.model.audit import Change, row_writes
from localcap.model.calc import recalculate
from localcap.model.errors import DomainError, NotPermitted
from localcap.model.numbers import small_int
from localcap.model.project import CLASSIC_EVENT_ID, Field, Project, checkbox_column
from localcap.model.record_names import record_name_problem
from localcap.model.rows import StoredRow
from localcap.model.validation import validation_message, value_is_valid

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


class CreateNotPermitted(RecordImportError, NotPermitted):
    """The submission would create records and the caller may not create any."""


@dataclass
class RowChange:
    """The values one submitted row sets on one stored row."""

    record: str
    event_id: int
    repeat_instrument: str
    instance: int | str  # "new": the next free instance
    values: dict[str, str] = field(default_factory=dict)
    checkboxes: dict[str, dict[str, str]] = field(default_factory=dict)
    dag: str | None = None  # unique DAG name, "" to unassign, None to leave as is


@dataclass
class ImportPlan:
    changes: list[RowChange]
    records: list[str]  # distinct, in order of first appearance


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
        self.errors: list[str] = []

    def check(self, rows: Sequence[dict[str, Any]], group_id: int | None) -> ImportPlan:
        project = self.project
        record_field = project.record_id_field
        unknown = sorted(
            {
                key
                for row in rows
                for key in row
                if key not in self.columns
                and key not in SPECIAL
                and key != record_field
                and not TIMESTAMP.match(key)
            }
        )
        if unknown:
            raise RecordImportError(
                "The following fields were not found in the project as real data fields: "
                + ", ".join(unknown)
            )
        changes: list[RowChange] = []
        records: dict[str, None] = {}
        for row in rows:
            change = self._check_row(
                {k: "" if v is None else str(v) for k, v in row.items()}, record_field, group_id
            )
            if change is not None:
                changes.append(change)
                records.setdefault(change.record, None)
        if self.errors:
            raise RecordImportError("\n".join(self.errors))
        return ImportPlan(changes, list(records))

    def _check_row(
        self, row: dict[str, str], record_field: str, group_id: int | None
    ) -> RowChange | None:
        project = self.project
        record = row.get(record_field, "").strip()
        if not record:
            self.errors.append(
                _error_line(
                    "",
                    record_field,
                    "",
                    f"The record ID field ({record_field}) is missing or blank",
                )
            )
            return None
        problem = record_name_problem(record)
        if problem:
            self.errors.append(_error_line(record[:40] + "...", record_field, "", problem))
            return None
        event_id = CLASSIC_EVENT_ID
        event_name = row.get("redcap_event_name", "").strip()
        if project.is_longitudinal:
            if not event_name:
                if not project.events:
                    self.errors.append(
                        _error_line(record, "redcap_event_name", "", "The project has no events")
                    )
                    return None
                event_id = project.events[0].event_id
            elif event_name not in project.event_by_name:
                self.errors.append(
                    _error_line(
                        record,
                        "redcap_event_name",
                        event_name,
                        f"The event name '{event_name}' is not valid",
                    )
                )
                return None
            else:
                event_id = project.event_by_name[event_name].event_id
        instrument = row.get("redcap_repeat_instrument", "").strip()
        instance_text = row.get("redcap_repeat_instance", "").strip()
        repeating_event = project.is_repeating_event(event_id)
        if instrument and not project.is_repeating_form(event_id, instrument):
            self.errors.append(
                _error_line(
                    record,
                    "redcap_repeat_instrument",
                    instrument,
                    f"The instrument '{instrument}' is not a repeating instrument here",
                )
            )
            return None
        instance: int | str = 1
        if instrument or repeating_event:
            if instance_text.lower() == "new":
                instance = "new"
            elif instance_text:
                number = small_int(instance_text, MAX_INSTANCE, minimum=1)
                if number is None:
                    self.errors.append(
                        _error_line(
                            record,
                            "redcap_repeat_instance",
                            instance_text,
                            "The repeat instance must be a positive integer or 'new'",
                        )
                    )
                    return None
                instance = number
        change = RowChange(record, event_id, instrument, instance)
        if "redcap_data_access_group" in row:
            dag = row["redcap_data_access_group"].strip()
            if group_id is not None:
                own = (
                    project.dag_by_id[group_id].unique_name if group_id in project.dag_by_id else ""
                )
                if dag and dag != own:
                    self.errors.append(
                        _error_line(
                            record,
                            "redcap_data_access_group",
                            dag,
                            "You are in a Data Access Group and cannot assign records to another group",
                        )
                    )
                    return None
            elif dag and dag not in project.dag_by_name:
                self.errors.append(
                    _error_line(
                        record,
                        "redcap_data_access_group",
                        dag,
                        f"The data access group '{dag}' does not exist",
                    )
                )
                return None
            else:
                change.dag = dag
        in_event = set(project.forms_in_event(event_id))
        for key, value in row.items():
            if key not in self.columns or key == record_field:
                continue
            f, code, form = self.columns[key]
            if value != "" and form not in in_event:
                self.errors.append(
                    _error_line(
                        record,
                        key,
                        value,
                        f"The field '{key}' is on the instrument '{form}', which is not designated for the event '{event_name}'",
                    )
                )
                continue
            form_repeats = project.is_repeating_form(event_id, form)
            if value != "" and not repeating_event and form_repeats != (form == instrument):
                message = (
                    f"The field '{key}' is on the repeating instrument '{form}': give redcap_repeat_instrument and redcap_repeat_instance"
                    if form_repeats
                    else f"The field '{key}' is not on the repeating instrument '{instrument}'"
                )
                self.errors.append(_error_line(record, key, value, message))
                continue
            self._check_value(change, record, key, value, f, code)
        return change

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
            change.checkboxes.setdefault(f.field_name, {})[code] = value
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
    """Merge one change into a stored row (normal: blanks never erase; overwrite: they do)."""
    data = row.data
    for name, value in change.values.items():
        if value == "":
            if overwrite:
                data.pop(name, None)
        else:
            data[name] = value
    for name, options in change.checkboxes.items():
        checked = list(data.get(name) or [])
        for code, value in options.items():
            if value == "1" and code not in checked:
                checked.append(code)
            elif value == "0" or (value == "" and overwrite):
                checked = [c for c in checked if c != code]
        choices = list(project.field_by_name[name].choices)
        checked.sort(key=lambda c: choices.index(c) if c in choices else len(choices))
        if checked:
            data[name] = checked
        else:
            data.pop(name, None)
    record_field = project.record_id_field
    # A form that now holds data gets a status: Incomplete unless one was given.
    for form in {project.form_of(name) for name in data if name != record_field}:
        if form is not None:
            data.setdefault(f"{form}_complete", "0")
    if not data:
        # A record imported with its ID alone (or blanked) still exists, as in REDCap.
        data[record_field] = change.record


def records_in(changes: Iterable[RowChange]) -> list[str]:
    return list(dict.fromkeys(c.record for c in changes))


def write_plan(
    conn: Connection,
    project: Project,
    plan: ImportPlan,
    *,
    group_id: int | None,
    overwrite: bool,
    auto_number: bool = False,
    may_create: bool = True,
    log: list[Change] | None = None,
    log_source: str = "API",
) -> tuple[list[str], dict[str, str]]:
    """Write a checked plan in the caller's transaction; returns (records, old->new ids).

    The calc fields of the records written are recomputed, as REDCap does after an import, a
    project XML import or a form/survey save (:mod:`localcap.model.calc`).

    ``log``: filled with what changed, record by record, for the audit log
    (:func:`localcap.model.audit.row_writes`; ``log_source`` "survey" for survey saves).
    """
    pid = project.project_id
    id_map: dict[str, str] = {}
    records = list(plan.records)
    if auto_number:
        new_names = store.next_record_names(conn, pid, len(records))
        id_map = dict(zip(records, new_names, strict=True))
        for change in plan.changes:
            change.record = id_map[change.record]
        records = [id_map[r] for r in records]
    existing = store.existing_records(conn, pid, records)
    if group_id is not None:
        foreign = [r for r in records if r in existing and existing[r] != group_id]
        if foreign:
            raise RecordImportError(
                "You are in a Data Access Group and these records belong to another group: "
                + ", ".join(foreign)
            )
    new = [r for r in records if r not in existing]
    if new and not may_create:
        raise CreateNotPermitted(
            "You do not have Create Records privileges, so these records cannot be created: "
            + ", ".join(new)
        )
    dag_updates = {
        c.record: (project.dag_by_name[c.dag].group_id if c.dag else None)
        for c in plan.changes
        if c.dag is not None
    }
    store.create_records(
        conn,
        pid,
        [
            (record, group_id if group_id is not None else dag_updates.get(record))
            for record in records
            if record not in existing
        ],
    )
    for record in records:
        if record in existing and record in dag_updates and group_id is None:
            store.set_record_group(conn, pid, record, dag_updates[record])
    current = {(r.record, *r.key): r for r in store.load_rows(conn, pid, records)}
    before = {key: dict(row.data) for key, row in current.items()} if log is not None else {}
    created: set[tuple[str, int, str, int]] = set()
    changed: set[tuple[str, int, str, int]] = set()
    for change in plan.changes:
        instance = change.instance
        if instance == "new":
            used = [
                key[3]
                for key in current
                if key[:3] == (change.record, change.event_id, change.repeat_instrument)
            ]
            instance = max(used, default=0) + 1
        key = (change.record, change.event_id, change.repeat_instrument, int(instance))
        row = current.get(key)
        if row is None:
            row = current[key] = StoredRow(*key)
            created.add(key)
        apply_change(row, change, overwrite, project)
        changed.add(key)
    written: dict[str, set[str]] = {}
    for change in plan.changes:
        written.setdefault(change.record, set()).update(change.values, change.checkboxes)
    changed |= recalculate(project, current.values(), written)
    # rows of these records that the import did not name stay as they are
    store.save_rows(conn, pid, [(current[key], key in created) for key in changed])
    store.touch_records(conn, pid, records)
    if log is not None:
        order_of = {record: i for i, record in enumerate(records)}  # as imported
        written_keys = sorted(changed, key=lambda k: (order_of.get(k[0], 0), k[1:]))
        log.extend(
            row_writes(
                project,
                written_keys,
                before,
                {k: current[k].data for k in changed},
                set(new),
                log_source,
            )
        )
    return records, id_map
