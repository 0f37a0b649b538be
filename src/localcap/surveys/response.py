"""A submitted survey page, turned into one Import Records row and checked like one.

The survey page saves through :class:`localcap.model.record_import.ImportChecker` and
the use case :func:`localcap.actions.import_records.import_records`, so an answer is held to exactly the rules of Import Records (choices,
validation types, ranges of dates...) and written in one transaction with the audit entry and
the participant's completion time. Required fields are the survey's own rule (Import Records
does not enforce them). Which questions are shown is :mod:`localcap.surveys.branching`'s
decision; a question it hides is not required and its value is erased on save.

A save writes only the questions the page asks (:func:`input_fields`): what staff entered in
the instrument's other fields (hidden or read-only by action tags, see
:mod:`localcap.model.action_tags`) is kept, and the page opens with the record's stored
answers, as REDCap's does.

One response per link: the participant's row is updated first in the save's transaction with
a compare-and-set on its completion time (:func:`localcap.db.surveys.claim_response`), so of
simultaneous posts completing the same survey exactly one saves; the others find it completed.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from sqlalchemy import Connection

from localcap.actions.import_records import ImportOptions, import_records
from localcap.db import documents as docs
from localcap.db import records as store
from localcap.db.audit import AuditEntry, write_entry
from localcap.db.surveys import claim_response
from localcap.model.action_tags import initial_value, outside_range, survey_tags
from localcap.model.audit import Change
from localcap.model.project import Field, Project, checkbox_column
from localcap.model.record_import import ImportChecker, RecordImportError
from localcap.model.rows import StoredRow
from localcap.model.surveys import Participant

#: Field types a participant answers on the page (calc is computed, descriptive is text,
#: sql fields are not offered on localcap's survey page; files are uploaded, see pages).
ANSWERABLE = frozenset(
    {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "slider"}
)
#: Who the audit log names for a survey response (REDCap's own wording).
RESPONDENT = "[survey respondent]"
REQUIRED_MESSAGE = "This field is required."


class Saved(Enum):
    """What became of a posted response."""

    SAVED = "saved"
    #: Not valid: nothing written, the reasons in ``Submission.errors``.
    INVALID = "invalid"
    #: Someone (a simultaneous post) completed the response first: nothing written.
    CLOSED = "closed"


def survey_fields(project: Project, form_name: str) -> list[Field]:
    """The instrument's fields as the page shows them (the record ID field is never asked)."""
    return [
        f
        for f in project.fields
        if f.form_name == form_name and f.field_name != project.record_id_field
    ]


def input_fields(project: Project, form_name: str) -> list[Field]:
    """The questions the respondent answers on the page: answerable types that no action tag
    hides or makes read-only. Only these are read from a post and written."""
    return [
        f
        for f in survey_fields(project, form_name)
        if f.field_type in ANSWERABLE and survey_tags(f).is_input
    ]


def upload_fields(project: Project, form_name: str) -> list[Field]:
    """File-upload and signature fields the respondent answers with a file on the page."""
    return [
        f
        for f in survey_fields(project, form_name)
        if f.field_type == "file" and survey_tags(f).is_input
    ]


def attach_files(
    conn: Connection,
    project: Project,
    participant: Participant,
    documents: dict[str, int],
) -> list[int]:
    """Point the participant's file fields at their new ``documents`` rows (field -> doc_id),
    in the caller's transaction, after the answers were saved; returns the doc_ids replaced,
    whose rows the caller deletes (and their bytes after the commit), as Import File does."""
    if not documents:
        return []
    assert participant.record is not None
    form = participant.form_name
    repeat = form if project.is_repeating_form(participant.event_id, form) else ""
    row = docs.read_data_row(
        conn,
        project.project_id,
        participant.record,
        participant.event_id,
        repeat,
        participant.instance,
    )
    replaced = []
    for name, doc_id in documents.items():
        old = row.data.get(name)
        if old:
            replaced.append(int(old))
        row.data[name] = str(doc_id)
    row.data.setdefault(f"{form}_complete", "0")
    stored = StoredRow(
        participant.record, participant.event_id, repeat, participant.instance, row.data
    )
    store.save_row(conn, project.project_id, stored, is_new=not row.exists)
    return replaced


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
    for f in input_fields(project, form_name):
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


def participant_row(
    project: Project, participant: Participant, rows: Sequence[StoredRow]
) -> dict[str, object]:
    """The stored data of the participant's row ({} when it has none yet)."""
    repeats = project.is_repeating_form(participant.event_id, participant.form_name)
    key = (participant.event_id, participant.form_name if repeats else "", participant.instance)
    return next((row.data for row in rows if row.key == key), {})


def saved_submission(
    project: Project, participant: Participant, rows: Sequence[StoredRow]
) -> Submission:
    """The answers stored for this participant's row, as the page shows them."""
    data = participant_row(project, participant, rows)
    sub = Submission()
    for f in input_fields(project, participant.form_name):
        stored = data.get(f.field_name)
        if f.field_type == "checkbox":
            sub.checked[f.field_name] = list(stored or [])  # type: ignore[call-overload]
        else:
            sub.values[f.field_name] = "" if stored is None else str(stored)
    return sub


def opening_submission(
    project: Project, participant: Participant, rows: Sequence[StoredRow], now: datetime
) -> Submission:
    """What a page opens with: the record's stored values for the instrument's questions, and
    ``@NOW``/``@TODAY`` (and, on an instrument with no data yet, ``@DEFAULT``) in blank ones."""
    sub = saved_submission(project, participant, rows)
    fresh = f"{participant.form_name}_complete" not in participant_row(project, participant, rows)
    for f in input_fields(project, participant.form_name):
        if f.field_type == "checkbox" or sub.value(f.field_name):
            continue
        tags = survey_tags(f)
        if tags.now or fresh:
            sub.values[f.field_name] = initial_value(f, tags, now)
    return sub


def erase_hidden(project: Project, form_name: str, sub: Submission, visible: set[str]) -> None:
    """Blank the answers of hidden questions: their stored values are erased on save."""
    for f in input_fields(project, form_name):
        if f.field_name in visible:
            continue
        if f.field_type == "checkbox":
            sub.checked[f.field_name] = []
        else:
            sub.values[f.field_name] = ""


def _tag_values(
    project: Project, participant: Participant, rows: Sequence[StoredRow], now: datetime
) -> dict[str, str]:
    """Hidden or read-only fields with ``@NOW``/``@TODAY``/``@DEFAULT`` and no stored value:
    the value the page gives them on save."""
    data = participant_row(project, participant, rows)
    values = {}
    for f in survey_fields(project, participant.form_name):
        tags = survey_tags(f)
        if tags.is_input or f.field_type != "text" or data.get(f.field_name):
            continue
        value = initial_value(f, tags, now)
        if value:
            values[f.field_name] = value
    return values


def _import_row(
    project: Project,
    participant: Participant,
    sub: Submission,
    complete: bool,
    extra: dict[str, str],
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
    row.update(extra)
    row.update(sub.values)
    for name, codes in sub.checked.items():
        for code in project.field_by_name[name].choices:
            row[checkbox_column(name, code)] = "1" if code in codes else "0"
    row[f"{form}_complete"] = "2" if complete else "0"
    return row


def is_required(f: Field) -> bool:
    return f.required_field.strip().lower() == "y" and f.field_type in ANSWERABLE


def _page_errors(
    project: Project, form_name: str, sub: Submission, visible: set[str], complete: bool
) -> dict[str, str]:
    """Required questions left blank (when completing) and ``@FORCE-MINMAX`` ranges."""
    errors = {}
    for f in input_fields(project, form_name):
        if f.field_name not in visible:
            continue
        if f.field_type == "checkbox":
            empty = not sub.checked.get(f.field_name)
        else:
            value = sub.value(f.field_name).strip()
            empty = not value
            if value and survey_tags(f).force_minmax and (problem := outside_range(f, value)):
                errors[f.field_name] = problem
        if complete and empty and is_required(f):
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
    rows: Sequence[StoredRow],
    editing: bool = False,
) -> Saved:
    """Check and save one response in the caller's transaction. INVALID (``sub.errors``
    filled) and CLOSED write nothing; a RecordImportError raised after the participant was
    claimed must roll the caller's transaction back.

    ``visible``: the questions shown (branching logic); the others are erased. ``complete``
    False is Save & Return Later: no required answers, the form stays Incomplete.
    ``editing``: a completed response the survey lets its respondent change."""
    erase_hidden(project, participant.form_name, sub, visible)
    sub.errors = _page_errors(project, participant.form_name, sub, visible, complete)
    if sub.errors:
        return Saved.INVALID
    now = datetime.now()
    extra = _tag_values(project, participant, rows, now)
    checker = ImportChecker(project)
    try:
        plan = checker.check([_import_row(project, participant, sub, complete, extra)], None)
    except RecordImportError as exc:
        sub.errors = _checker_errors(project, exc.message)
        return Saved.INVALID
    stamp = store.now()
    if not claim_response(conn, participant.participant_id, stamp, complete, editing):
        return Saved.CLOSED
    assert participant.record is not None
    written = import_records(
        conn,
        project,
        [plan],
        ImportOptions(overwrite=True, may_create=False, audit=True, log_source="survey"),
    )
    if complete:
        _stamp_row(conn, project, participant, stamp)
    _log_response(conn, project, participant, complete, written.changes)
    return Saved.SAVED


def _log_response(
    conn: Connection,
    project: Project,
    participant: Participant,
    complete: bool,
    changes: list[Change],
) -> None:
    """The audit log's record of a saved response, in the save's transaction: the respondent
    is no user, and the entry names what the survey changed."""
    assert participant.record is not None
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
