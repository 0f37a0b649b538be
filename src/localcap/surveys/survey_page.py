"""What one ``?s=`` link opens: the participant, their survey, the project and the record.

Loading it decides whether the link still leads anywhere (a deleted record, event or
survey closes it); the page object then answers what branching logic shows, what piping
reads and what read-only fields display, for every view and the save alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection

from localcap.db import projects as project_store
from localcap.db import surveys as survey_store
from localcap.model.action_tags import survey_tags
from localcap.model.piping import Lookup, pipe, row_lookup
from localcap.model.project import Field, Project
from localcap.model.rows import StoredRow
from localcap.model.surveys import (
    HASH_ALPHABET,
    HASH_LENGTH,
    Participant,
    Survey,
    in_records_arm,
)
from localcap.surveys.branching import calctext_values, visible_fields
from localcap.surveys.response import (
    Submission,
    load_record,
    participant_row,
    survey_fields,
)


@dataclass
class SurveyPage:
    """What one ``?s=`` link opens: the participant, their survey, the project and the
    record's stored rows (what branching logic and saved answers read)."""

    participant: Participant
    survey: Survey
    project: Project
    rows: list[StoredRow] = field(default_factory=list)
    group_id: int | None = None
    #: The piping lookup, made once for the rows it was made from.
    _piping: tuple[list[StoredRow], Lookup] | None = field(default=None, repr=False)

    @property
    def form_name(self) -> str:
        return self.participant.form_name

    def visible(self, sub: Submission) -> set[str]:
        """The fields shown: branching logic's choice, without those an action tag hides."""
        shown = visible_fields(self.project, self.participant, self.rows, self.group_id, sub)
        return {
            f.field_name
            for f in survey_fields(self.project, self.form_name)
            if f.field_name in shown and not survey_tags(f).hidden
        }

    def pipe(self, text: str, escape: bool = True) -> str:
        """Text with the record's saved values piped in (:mod:`localcap.model.piping`)."""
        if self._piping is None or self._piping[0] is not self.rows:
            self._piping = (self.rows, self._lookup())
        return pipe(self.project, text or "", self._piping[1], escape=escape)

    def _lookup(self) -> Lookup:
        """Values by (event, form): the participant's own instance of its event and form,
        instance 1 elsewhere."""
        p = self.participant
        rows: dict[tuple[int, str], dict[str, object]] = {}
        for row in self.rows:
            own_event = row.event_id == p.event_id
            if row.repeat_instrument:
                if (
                    row.repeat_instrument == p.form_name
                    and own_event
                    and row.instance == p.instance
                ):
                    rows[(row.event_id, row.repeat_instrument)] = row.data
                continue
            wanted = p.instance if own_event and self.project.is_repeating_event(p.event_id) else 1
            if row.instance == wanted:
                for form in self.project.forms_in_event(row.event_id):
                    rows[(row.event_id, form)] = row.data
        return row_lookup(self.project, rows, p.event_id)

    def shown_values(self, sub: Submission, visible: set[str]) -> dict[str, str]:
        """The text shown for the visible fields that are not inputs: ``@CALCTEXT`` results,
        and read-only fields' stored values (choice labels for choice fields)."""
        data = participant_row(self.project, self.participant, self.rows)
        shown = {
            f.field_name: _display(f, data.get(f.field_name))
            for f in survey_fields(self.project, self.form_name)
            if f.field_name in visible and f.has_data and survey_tags(f).readonly
        }
        shown.update(calctext_values(self.project, self.participant, self.rows, self.group_id, sub))
        return shown


def _display(f: Field, stored: object) -> str:
    """A stored value as a read-only field shows it."""
    if stored is None:
        return ""
    if isinstance(stored, list):
        return ", ".join(f.choices.get(code, code) for code in stored)
    return f.choices.get(str(stored), str(stored))


def well_formed(code: str, length: int) -> bool:
    """Whether a link hash or code from the URL or form could be one localcap made. Anything
    else never reaches the database (PostgreSQL refuses a NUL byte in a query with an error)."""
    return len(code) == length and all(c in HASH_ALPHABET for c in code)


def load_page(conn: Connection, hash_: str) -> SurveyPage | None:
    """What a link opens, or None when it leads nowhere any more: an unknown hash, a deleted
    record, project or event, an instrument no longer a survey or no longer in its event, an
    event of an arm the record is not in."""
    if not well_formed(hash_, HASH_LENGTH):
        return None
    participant = survey_store.participant_by_hash(conn, hash_)
    if participant is None or participant.record is None:
        return None
    project = project_store.load_project(conn, participant.project_id)
    if project is None:
        return None
    survey = survey_store.load_surveys(conn, project.project_id).get(participant.form_name)
    if survey is None or not survey.enabled:
        return None
    if participant.form_name not in project.forms_in_event(participant.event_id):
        return None  # the event was deleted, or the instrument taken out of it
    rows, group_id = load_record(conn, project, participant.record)
    if not in_records_arm(project, participant.event_id, (row.event_id for row in rows)):
        return None
    data = participant_row(project, participant, rows)
    if (
        not participant.completion_time
        and str(data.get(f"{participant.form_name}_complete")) == "2"
    ):
        # completed by staff on a data entry form (or an import): REDCap's link then says
        # the survey was already completed instead of opening a blank form
        stamp = str(data.get(f"{participant.form_name}_timestamp") or "completed")
        participant = replace(participant, completion_time=stamp)
    return SurveyPage(participant, survey, project, rows, group_id)
