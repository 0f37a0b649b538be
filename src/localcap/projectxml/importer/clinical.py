"""Reading ``ClinicalData`` into records, written in batches through Import Records' rules.

Subjects stream past one at a time; each becomes the flat rows Import Records takes (one per
event, repeating instrument and instance), and every :data:`BATCH_SUBJECTS` subjects the
batch is checked and written by the shared record-import code, so the same data rules hold
as for the API and memory stays bounded whatever the file size.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field

from sqlalchemy import Connection

from localcap.actions.import_records import ImportOptions, RecordWriter
from localcap.files.store import FileStore
from localcap.model.numbers import small_int
from localcap.model.project import CLASSIC_EVENT_ID, Project
from localcap.model.record_import import ImportChecker, RecordImportError
from localcap.projectxml.importer.design import Cursor
from localcap.projectxml.importer.files import FileSink, store_document
from localcap.projectxml.importer.warninglist import Warnings
from localcap.projectxml.safexml import ProjectXmlError

#: Subjects per checked-and-written batch: bounds memory whatever the file size.
BATCH_SUBJECTS = 1000
#: Elements that only structure the data.
STRUCTURE = ("ClinicalData", "ItemGroupData", "ODM")


@dataclass
class _Row:
    values: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)  # files (doc ids), survey timestamps


class ClinicalDataReader:
    """The start/end events of ``ClinicalData`` -> records in the created project."""

    def __init__(
        self,
        conn: Connection,
        file_store: FileStore,
        project: Project,
        cursor: Cursor,
        warnings: Warnings,
    ) -> None:
        self.conn = conn
        self.file_store = file_store
        self.project = project
        self.cursor = cursor
        self.warnings = warnings
        #: The clinical data's one record import, fed a batch of subjects at a time.
        self.writer = RecordWriter(conn, project, ImportOptions())
        self.calc_fields = {f.field_name for f in project.fields if f.field_type == "calc"}
        #: ItemOIDs that are not simply a value of the row (see _item_value): every other
        #: ItemData is stored with one set look-up, as a big file holds millions of them.
        self._special_items = (
            self.calc_fields
            | {"redcap_survey_identifier"}
            | {f"{form}_timestamp" for form in project.form_by_name}
        )
        self.stored_keys: list[str] = []
        self.record_count = 0
        self.file_count = 0
        self.file: FileSink | None = None
        self._subject: str | None = None
        self._subject_line = 0
        self._rows: dict[tuple[str, str, int], _Row] = {}
        self._row: _Row | None = None
        self._se_event = ""
        self._se_key = 1
        self._form_key = 1
        self._batch: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._batch_records = 0
        self._seen_subjects: set[str] = set()

    def item(self, attrs: dict[str, str]) -> None:
        """One ``ItemData``: the reader's shortcut for by far the most frequent element (no
        start/end event, no line, no place on the element stack)."""
        item, value = attrs.get("ItemOID", ""), attrs.get("Value", "")
        row = self._row
        if row is not None and item not in self._special_items:
            row.values[item] = value
        else:
            self._item_value(item, value)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        """Every element of ``ClinicalData`` but ``ItemData`` (see :meth:`item`)."""
        line = self.cursor.line
        if name == "SubjectData":
            self._subject = attrs.get("SubjectKey", "")
            self._subject_line = line
            if not self._subject.strip():
                raise ProjectXmlError("SubjectData without a SubjectKey", line)
            self._se_event, self._se_key = "", 1
        elif name == "StudyEventData":
            self._se_event = attrs.get("redcap:UniqueEventName") or attrs.get(
                "StudyEventOID", ""
            ).removeprefix("Event.")
            self._se_key = _key(attrs.get("StudyEventRepeatKey", "1"), line)
        elif name == "FormData":
            form_name = attrs.get("FormOID", "").removeprefix("Form.")
            self._form_key = _key(attrs.get("FormRepeatKey", "1"), line)
            self._row = self._row_for(form_name)
        elif name == "ItemDataBase64Binary":
            self.file = FileSink(attrs.get("ItemOID", ""), attrs.get("redcap:DocName", ""))
        elif name not in STRUCTURE:
            where = "in ClinicalData " if "ClinicalData" in self.cursor.stack else ""
            self.warnings.add(f"<{name}> elements {where}are not supported (ignored)")

    def end(self, name: str) -> None:
        if name == "ItemDataBase64Binary":
            self._store_file()
        elif name == "FormData":
            self._row = None
        elif name == "SubjectData":
            self._finish_subject()
        elif name == "ClinicalData":
            self.flush()

    def _row_for(self, form: str) -> _Row:
        project = self.project
        if form not in project.form_by_name:
            raise ProjectXmlError(
                f"FormData refers to an unknown instrument {form}", self.cursor.line
            )
        event_id = CLASSIC_EVENT_ID
        if project.is_longitudinal:
            event = project.event_by_name.get(self._se_event)
            if event is None:
                raise ProjectXmlError(
                    f"StudyEventData refers to an unknown event '{self._se_event}'",
                    self.cursor.line,
                )
            event_id = event.event_id
        if project.is_repeating_form(event_id, form):
            key = (self._se_event, form, self._form_key)
        elif project.is_repeating_event(event_id):
            key = (self._se_event, "", self._se_key)
        else:
            key = (self._se_event, "", 1)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = _Row()
        return row

    def _item_value(self, name: str, value: str) -> None:
        """An ItemData that is not a plain value, or is outside a FormData."""
        row = self._row
        if row is None:
            raise ProjectXmlError(f"ItemData {name} outside FormData")  # the reader's line
        if name == "redcap_survey_identifier":
            if value:
                self.warnings.add("Survey identifiers (redcap_survey_identifier) are not kept")
            return
        if name.endswith("_timestamp") and name.removesuffix("_timestamp") in (
            self.project.form_by_name
        ):
            row.extras[name] = value
            return
        if name in self.calc_fields:
            # REDCap does not keep a project XML's values of calculated fields; it computes
            # them once the records are in (see flush and docs/CLIENTS.md).
            if value:
                self.warnings.add(
                    "Values of calculated fields were not imported but computed, as REDCap "
                    "does with a project XML"
                )
            return
        row.values[name] = value

    def _store_file(self) -> None:
        sink = self.file
        self.file = None
        assert sink is not None
        line = self.cursor.line
        f = self.project.field_by_name.get(sink.field)
        if f is None or f.field_type != "file":
            raise ProjectXmlError(
                f"ItemDataBase64Binary for '{sink.field}', which is not a file field", line
            )
        if self._row is None:
            raise ProjectXmlError("ItemDataBase64Binary outside FormData", line)
        try:
            doc_id = store_document(
                self.conn, self.file_store, self.project.project_id, sink, self.stored_keys
            )
        except binascii.Error:
            raise ProjectXmlError(
                f"The file of field '{sink.field}' is not valid base64", line
            ) from None
        self._row.extras[sink.field] = str(doc_id)
        self.file_count += 1

    def _finish_subject(self) -> None:
        project = self.project
        assert self._subject is not None
        record = self._subject
        if record in self._seen_subjects:
            raise ProjectXmlError(f"The record '{record}' appears twice", self._subject_line)
        self._seen_subjects.add(record)
        record_field = project.record_id_field
        dag_done = False
        for (event, instrument, instance), row in self._rows.items():
            values = row.values  # (the row is dropped with the subject)
            values[record_field] = record
            dag = values.pop("redcap_data_access_group", None)
            if project.is_longitudinal:
                values["redcap_event_name"] = event
            if instrument or project.is_repeating_event(
                project.event_by_name[event].event_id if project.is_longitudinal else 0
            ):
                values["redcap_repeat_instrument"] = instrument
                values["redcap_repeat_instance"] = str(instance)
            if dag and not dag_done:
                values["redcap_data_access_group"] = dag
                dag_done = True
            self._batch.append((record, values, row.extras))
        if not self._rows:  # a record with no data at all: keep it
            self._batch.append((record, {record_field: record}, {}))
        self._rows = {}
        self._subject = None
        self.record_count += 1
        self._batch_records += 1
        if self._batch_records >= BATCH_SUBJECTS:
            self.flush()

    def flush(self) -> None:
        """Check and write the subjects read so far."""
        if not self._batch:
            return
        rows = [values for _, values, _ in self._batch]
        # Values that fail their field's validation or choices are kept, as REDCap keeps them
        # (REDCapR's "potentially problematic values" project loads on real REDCap servers).
        checker = ImportChecker(self.project, keep_invalid=True)
        try:
            plan = checker.check(rows, None)
        except RecordImportError as exc:
            raise ProjectXmlError(
                f"The records in ClinicalData are not valid for this project:\n{exc.message}"
            ) from None
        for line in checker.kept_invalid:
            self.warnings.add(f"Kept a value that fails its field's validation: {line}")
        for change, (_, _, extras) in zip(plan.changes, self._batch, strict=True):
            change.values.update(extras)
        try:
            # The calc fields are computed from the imported data, as Import Records does:
            # REDCapR's projects built from their XMLs on real REDCap hold computed values.
            self.writer.write(plan)
        except RecordImportError as exc:
            raise ProjectXmlError(exc.message) from None
        self._batch = []
        self._batch_records = 0


def _key(text: str, line: int) -> int:
    text = (text or "1").strip()
    number = small_int(text, 2**31 - 1, minimum=1)
    if number is None:
        raise ProjectXmlError(f"A repeat key must be a positive number, not {text!r}", line)
    return number
