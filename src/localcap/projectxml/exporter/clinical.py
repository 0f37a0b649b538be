"""``ClinicalData``, streamed record by record: SubjectData per record, StudyEventData per event
(and repeat instance), FormData per form, files as base64 in pieces.

Rights are Export Records': only the fields the user may export, files only with
``exportFiles`` and full rights on their instrument, the DAG only for a user in none.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator

from localcap.model.project import (
    checkbox_column,
)
from localcap.model.rights import FULL
from localcap.model.rows import StoredRow
from localcap.projectxml.exporter.context import ScopedWriter
from localcap.projectxml.exporter.xmltext import attr

#: Raw bytes per base64 piece of a file (a multiple of 3: pieces concatenate cleanly).
FILE_PIECE = 3 * (1 << 18)


#: (column, value, is_file) of one item of a form.
Item = tuple[str, str, bool]


class ClinicalDataWriter(ScopedWriter):
    """The ``ClinicalData`` element's opening and content (one record at a time: the open
    event and the DAG not yet written are the state between rows)."""

    _event_key: tuple[int, int] | None = None
    _dag_pending = ""

    def clinical_head(self) -> str:
        return (
            f"<ClinicalData StudyOID={attr('Project.' + self.scope.name)} "
            f"MetaDataVersionOID={attr(self.scope.metadata_oid)}>\n"
        )

    def _form_items(self, row: StoredRow, form: str) -> list[tuple[str, str, bool]]:
        """(column, value, is_file) of one form in one stored row; [] when it holds nothing."""
        p = self.project
        data = row.data
        items: list[tuple[str, str, bool]] = []
        has_data = False
        record_field = p.record_id_field
        for f in p.form_fields.get(form, []):
            name = f.field_name
            if name == record_field:
                continue
            if name not in self.scope.allowed:
                continue
            value = data.get(name)
            if f.field_type == "checkbox":
                checked = set(value or [])
                has_data = has_data or bool(checked)
                items.extend(
                    (checkbox_column(name, code), "1" if code in checked else "0", False)
                    for code in f.choices
                )
            elif f.field_type == "file":
                if value in (None, ""):
                    continue
                has_data = True
                if self.ctx.options.files and self.ctx.rights.export_level(form) == FULL:
                    items.append((name, str(value), True))
            elif value not in (None, ""):
                has_data = True
                items.append((name, str(value), False))
        complete = f"{form}_complete"
        status = data.get(complete)
        stamp = data.get(f"{form}_timestamp")
        if not has_data and status in (None, "") and not stamp:
            return []
        if stamp and form in self.scope.survey_forms:
            items.insert(0, (f"{form}_timestamp", str(stamp), False))
        if complete in self.scope.allowed and status not in (None, ""):
            items.append((complete, str(status), False))
        return items

    def _forms_of_row(self, row: StoredRow) -> list[str]:
        p = self.project
        if row.repeat_instrument:
            return [row.repeat_instrument]
        forms = p.forms_in_event(row.event_id)
        if p.is_repeating_event(row.event_id):
            return forms
        return [f for f in forms if not p.is_repeating_form(row.event_id, f)]

    def _file_xml(self, column: str, value: str) -> Iterator[str]:
        document = self.ctx.document(value)
        if document is None:
            return
        yield (
            f"\t\t\t\t\t<ItemDataBase64Binary ItemOID={attr(column)} "
            f"redcap:DocName={attr(document.name)} redcap:MimeType={attr(document.mime_type)}>"
            "<![CDATA["
        )
        rest = b""
        for chunk in self.ctx.open_file(document.store_key):
            data = rest + chunk
            cut = len(data) - len(data) % 3
            if cut >= FILE_PIECE or cut == len(data):
                yield base64.b64encode(data[:cut]).decode()
                rest = data[cut:]
            else:
                rest = data
        if rest:
            yield base64.b64encode(rest).decode()
        yield "]]></ItemDataBase64Binary>\n"

    def clinical_data(self, rows: Iterable[StoredRow]) -> Iterator[str]:
        """SubjectData per record, StudyEventData per event (and repeat instance), FormData
        per form; the record-ID item where the record-ID form has data; the DAG once."""
        p = self.project
        record_field = p.record_id_field
        record_form = p.field_by_name[record_field].form_name if p.fields else ""
        dag_names = {d.group_id: d.unique_name for d in p.dags}
        subject: str | None = None
        self._event_key = None
        self._dag_pending = ""
        for row in rows:
            if row.record != subject:
                yield from self._close_event()
                if subject is not None:
                    yield "\t</SubjectData>\n"
                subject = row.record
                self._dag_pending = dag_names.get(row.group_id, "") if self.scope.with_dags else ""
                yield (
                    f"\t<SubjectData SubjectKey={attr(row.record)} "
                    f"redcap:RecordIdField={attr(record_field)}>\n"
                )
            forms = self._row_forms(row, record_form)
            if not forms:
                continue
            if p.is_longitudinal:
                yield from self._open_event(row)
            for form, items in forms:
                yield from self._form_data(row, form, items, record_form)
        yield from self._close_event()
        if subject is not None:
            yield "\t</SubjectData>\n"

    def _row_forms(self, row: StoredRow, record_form: str) -> list[tuple[str, list[Item]]]:
        """The forms of a row with something to write: data, or the DAG still to place."""
        forms = []
        for form in self._forms_of_row(row):
            items = self._form_items(row, form)
            if items or (form == record_form and not row.repeat_instrument and self._dag_pending):
                forms.append((form, items))
        return forms

    def _close_event(self) -> Iterator[str]:
        if self._event_key is not None:
            yield "\t\t</StudyEventData>\n"
            self._event_key = None

    def _open_event(self, row: StoredRow) -> Iterator[str]:
        """A new StudyEventData when the row's event (or event instance) changes."""
        p = self.project
        event = p.event_by_id.get(row.event_id)
        name = event.unique_event_name if event else ""
        instance = row.instance if p.is_repeating_event(row.event_id) else 1
        key = (row.event_id, instance)
        if key != self._event_key:
            yield from self._close_event()
            yield (
                f"\t\t<StudyEventData StudyEventOID={attr('Event.' + name)} "
                f'StudyEventRepeatKey="{instance}" redcap:UniqueEventName={attr(name)}>\n'
            )
            self._event_key = key

    def _form_data(
        self, row: StoredRow, form: str, items: list[Item], record_form: str
    ) -> Iterator[str]:
        """One FormData: the record ID and DAG first, the form's items, then its status in an
        ItemGroupData of its own (as REDCap writes it)."""
        form_key = row.instance if row.repeat_instrument == form else 1
        yield f'\t\t\t<FormData FormOID={attr("Form." + form)} FormRepeatKey="{form_key}">\n'
        head: list[Item] = []
        if form == record_form and not row.repeat_instrument:
            head.append((self.project.record_id_field, row.record, False))
        if self._dag_pending:
            head.append(("redcap_data_access_group", self._dag_pending, False))
            self._dag_pending = ""
        complete = f"{form}_complete"
        body = head + [i for i in items if i[0] != complete]
        status = [i for i in items if i[0] == complete]
        if body:
            first = body[0][0]
            yield (
                f"\t\t\t\t<ItemGroupData ItemGroupOID={attr(form + '.' + first)} "
                'ItemGroupRepeatKey="1">\n'
            )
            for column, value, is_file in body:
                if is_file:
                    yield from self._file_xml(column, value)
                else:
                    yield f"\t\t\t\t\t<ItemData ItemOID={attr(column)} Value={attr(value)}/>\n"
            yield "\t\t\t\t</ItemGroupData>\n"
        for column, value, _ in status:
            yield (
                f"\t\t\t\t<ItemGroupData ItemGroupOID={attr(form + '.' + column)} "
                'ItemGroupRepeatKey="1">\n'
                f"\t\t\t\t\t<ItemData ItemOID={attr(column)} Value={attr(value)}/>\n"
                "\t\t\t\t</ItemGroupData>\n"
            )
        yield "\t\t\t</FormData>\n"
