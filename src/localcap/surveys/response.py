"""A submitted survey page, turned into one Import Records row and checked like one.

The survey page saves through :class:`localcap.model.record_import.ImportChecker` and
:func:`write_plan`, so an answer is held to exactly the rules of Import Records (choices,
validation types, ranges of dates...) and written in one transaction with the audit entry and
the participant's completion time. Required fields are the survey's own rule (Import Records
does not enforce them). Which questions are shown is :mod:`localcap.surveys.branching`'s
decision; a question it hides is not required and its value is erased on save.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from localcap.db import records as store
from localcap.db.audit import AuditEntry, write_entry
from localcap.db.records import StoredRow
from localcap.db.surveys import mark_submitted
from localcap.model.audit import Change
from localcap.model.project import Field, Project, checkbox_column
from localcap.model.record_import import ImportChecker, ImportError_, write_plan
from localcap.model.surveys import Participant

#: Field types a participant answers on the page (calc is computed, descriptive is text,
#: file uploads and sql fields are not offered on localcap's survey page).
ANSWERABLE = frozenset(
    {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "slider"}
)
#: Who the audit log names for a survey response (REDCap's own wording).
RESPONDENT = "[survey respondent]"
REQUIRED_MESSAGE = "This field is required."


def survey_fields(project: Project, form_name: str) -> list[Field]:
    """The instrument's fields as the page shows them (the record ID field is never asked)."""
    return [
        f
        for f in project.fields
        if f.form_name == form_name and f.field_name != project.record_id_field
    ]


@dataclass
class Submission:
    """What the participant sent: values by field (checkbox: the checked codes)."""

    values: dict[str, str] = field(default_factory=dict)
    checked: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")


def read_submission(project: Project, form_name: str, form: dict[str, list[str]]) -> Submission:
    sub = Submission()
    for f in survey_fields(project, form_name):
        if f.field_type not in ANSWERABLE:
            continue
        if f.field_type == "checkbox":
            sub.checked[f.field_name] = [c for c in form.get(f.field_name, []) if c in f.choices]
        else:
            values = form.get(f.field_name) or [""]
            sub.values[f.field_name] = values[0]
    return sub


def load_record(
    conn: Connection, project: Project, record: str
) -> tuple[list[StoredRow], int | None]:
    """The record's stored rows and its DAG (what branching logic and saved answers read)."""
    group_id = store.existing_records(conn, project.project_id, [record]).get(record)
    return store.load_rows(conn, project.project_id, [record]), group_id


def saved_submission(
    project: Project, participant: Participant, rows: Sequence[StoredRow]
) -> Submission:
    """The answers stored for this participant's row, as the page shows them when they return."""
    repeats = project.is_repeating_form(participant.event_id, participant.form_name)
    key = (participant.event_id, participant.form_name if repeats else "", participant.instance)
    data = next((row.data for row in rows if row.key == key), {})
    sub = Submission()
    for f in survey_fields(project, participant.form_name):
        stored = data.get(f.field_name)
        if f.field_type == "checkbox":
            sub.checked[f.field_name] = list(stored or [])
        elif f.field_type in ANSWERABLE:
            sub.values[f.field_name] = "" if stored is None else str(stored)
    return sub


def erase_hidden(project: Project, form_name: str, sub: Submission, visible: set[str]) -> None:
    """Blank the answers of hidden questions: their stored values are erased on save."""
    for f in survey_fields(project, form_name):
        if f.field_name in visible or f.field_type not in ANSWERABLE:
            continue
        if f.field_type == "checkbox":
            sub.checked[f.field_name] = []
        else:
            sub.values[f.field_name] = ""


def _import_row(
    project: Project, participant: Participant, sub: Submission, complete: bool
) -> dict[str, str]:
    assert participant.record is not None
    row = {project.record_id_field: participant.record}
    if project.is_longitudinal:
        row["redcap_event_name"] = project.event_by_id[participant.event_id].unique_event_name
    form = participant.form_name
    if project.is_repeating_form(participant.event_id, form):
        row["redcap_repeat_instrument"] = form
    if project.is_repeating_form(participant.event_id, form) or project.is_repeating_event(
        participant.event_id
    ):
        row["redcap_repeat_instance"] = str(participant.instance)
    row.update(sub.values)
    for name, codes in sub.checked.items():
        for code in project.field_by_name[name].choices:
            row[checkbox_column(name, code)] = "1" if code in codes else "0"
    row[f"{form}_complete"] = "2" if complete else "0"
    return row


def is_required(f: Field) -> bool:
    return f.required_field.strip().lower() == "y" and f.field_type in ANSWERABLE


def _required_errors(
    project: Project, form_name: str, sub: Submission, visible: set[str]
) -> dict[str, str]:
    errors = {}
    for f in survey_fields(project, form_name):
        if not is_required(f) or f.field_name not in visible:
            continue
        empty = (
            not sub.checked.get(f.field_name)
            if f.field_type == "checkbox"
            else not sub.value(f.field_name).strip()
        )
        if empty:
            errors[f.field_name] = REQUIRED_MESSAGE
    return errors


def _checker_errors(project: Project, message: str) -> dict[str, str]:
    """ImportChecker's ``"record","field","value","message"`` lines, by field."""
    errors: dict[str, str] = {}
    for line in csv.reader(message.splitlines()):
        if len(line) == 4:
            name = line[1]
            f = project.field_by_name.get(name) or project.field_by_name.get(name.split("___")[0])
            errors[f.field_name if f else name] = line[3]
    return errors or {"": message}


def save_response(
    conn: Connection,
    project: Project,
    participant: Participant,
    sub: Submission,
    *,
    complete: bool,
    visible: set[str],
) -> bool:
    """Check and save one response in the caller's transaction; False (with ``sub.errors``
    filled) when the answers are not valid, nothing being written then.

    ``visible``: the questions shown (branching logic); the others are erased. ``complete``
    False is Save & Return Later: no required answers, the form stays Incomplete."""
    erase_hidden(project, participant.form_name, sub, visible)
    if complete:
        sub.errors = _required_errors(project, participant.form_name, sub, visible)
        if sub.errors:
            return False
    checker = ImportChecker(project)
    changes: list[Change] = []
    try:
        plan = checker.check([_import_row(project, participant, sub, complete)], None)
        write_plan(
            conn,
            project,
            plan,
            group_id=None,
            overwrite=True,
            may_create=False,
            log=changes,
            log_source="survey",
        )
    except ImportError_ as exc:
        sub.errors = _checker_errors(project, exc.message)
        return False
    assert participant.record is not None
    stamp = store.now()
    if complete:
        _stamp_row(conn, project, participant, stamp)
    mark_submitted(conn, participant.participant_id, stamp, complete)
    write_entry(
        conn,
        AuditEntry(
            RESPONDENT,
            project.project_id,
            "survey",
            "import",
            {"instrument": participant.form_name, "event_id": participant.event_id},
            records=[participant.record],
            log_type="record",
            changes=changes,
            description=(
                f"Survey response {'completed' if complete else 'saved (partial)'}: record "
                f"{participant.record}, instrument {participant.form_name}, instance "
                f"{participant.instance}"
            ),
        ),
    )
    return True


def _stamp_row(conn: Connection, project: Project, participant: Participant, stamp: str) -> None:
    """The survey timestamp (``<form>_timestamp`` in exportSurveyFields) is the completion
    time, set once."""
    repeat_instrument = (
        participant.form_name
        if project.is_repeating_form(participant.event_id, participant.form_name)
        else ""
    )
    key = (participant.event_id, repeat_instrument, participant.instance)
    assert participant.record is not None
    for row in store.load_rows(conn, project.project_id, [participant.record]):
        if row.key == key:
            row.data.setdefault(f"{participant.form_name}_timestamp", stamp)
            store.save_row(conn, project.project_id, row, is_new=False)
