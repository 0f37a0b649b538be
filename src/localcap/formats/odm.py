"""CDISC ODM 1.3.1 ClinicalData for a flat export's rows, as REDCap writes it.

One ``SubjectData`` per record (``redcap:RecordIdField``), one ``StudyEventData`` per event
row (``redcap:UniqueEventName``; repeating events use ``StudyEventRepeatKey``), one
``FormData`` per instrument (``FormRepeatKey`` for repeating instruments), and inside it an
``ItemGroupData`` holding the instrument's values and one for its ``<form>_complete`` field.
Blank values are left out, as REDCap does. Line breaks inside attribute values are written as
character references so a conforming parser gives them back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any, Protocol
from xml.sax.saxutils import quoteattr

from localcap import REDCAP_VERSION

NS = (
    'xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:redcap="https://projectredcap.org" '
    'xsi:schemaLocation="http://www.cdisc.org/ns/odm/v1.3 schema/odm/ODM1-3-1.xsd"'
)
AUTOMATIC = {
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "redcap_survey_identifier",
}


class OdmProject(Protocol):
    project_title: str
    record_id_field: str
    is_longitudinal: bool

    def form_of(self, name: str) -> str | None: ...


def attr(value: str) -> str:
    return quoteattr(value, {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def study_oid(title: str) -> str:
    return "Project." + "".join(ch for ch in title.title() if ch.isalnum())


def write_odm(
    project: OdmProject,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    column_forms: Sequence[str | None],
) -> Iterator[bytes]:
    """Stream the ODM document; ``column_forms`` gives each column's instrument."""
    now = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    oid = study_oid(project.project_title)
    yield (
        f'<?xml version="1.0" encoding="UTF-8" ?>\n<ODM {NS} ODMVersion="1.3.1" '
        f'FileOID="000-00-0000" FileType="Snapshot" Description={attr(project.project_title)} '
        f'AsOfDateTime="{now}" CreationDateTime="{now}" SourceSystem="REDCap" '
        f'SourceSystemVersion="{REDCAP_VERSION}">\n'
        f'<ClinicalData StudyOID="{oid}" MetaDataVersionOID="Metadata.{oid[8:]}_{now[:10]}">\n'
    ).encode()
    index = {name: i for i, name in enumerate(header)}
    record_field = project.record_id_field
    for record, record_rows in groupby(rows, key=lambda row: row[0]):
        parts = [
            f"\t<SubjectData SubjectKey={attr(str(record))} redcap:RecordIdField={attr(record_field)}>\n"
        ]
        for row in record_rows:
            parts.append(_event_xml(project, header, row, index, column_forms))
        parts.append("\t</SubjectData>\n")
        yield "".join(parts).encode()
    yield b"</ClinicalData>\n</ODM>\n"


def _event_xml(
    project: OdmProject,
    header: Sequence[str],
    row: Sequence[Any],
    index: dict[str, int],
    column_forms: Sequence[str | None],
) -> str:
    event = str(row[index["redcap_event_name"]]) if "redcap_event_name" in index else ""
    instrument = (
        str(row[index["redcap_repeat_instrument"]]) if "redcap_repeat_instrument" in index else ""
    )
    instance = (
        str(row[index["redcap_repeat_instance"]] or "1")
        if "redcap_repeat_instance" in index
        else "1"
    )
    event_key = instance if event and not instrument else "1"
    form_key = instance if instrument else "1"
    dag = str(row[index["redcap_data_access_group"]]) if "redcap_data_access_group" in index else ""
    forms: dict[str, list[tuple[str, str]]] = {}
    for name, value, form in zip(header, row, column_forms, strict=False):
        if name in AUTOMATIC or value in ("", None) or form is None:
            continue
        forms.setdefault(form, []).append((name, str(value)))
    if not forms:
        return ""
    event_oid = event or "Event.1"
    out = [
        f"\t\t<StudyEventData StudyEventOID={attr('Event.' + event if event else event_oid)} "
        f'StudyEventRepeatKey="{event_key}"'
        + (f" redcap:UniqueEventName={attr(event)}" if event else "")
        + ">\n"
    ]
    first = True
    for form, items in forms.items():
        key = form_key if instrument == form else "1"
        out.append(f'\t\t\t<FormData FormOID={attr("Form." + form)} FormRepeatKey="{key}">\n')
        values = [(n, v) for n, v in items if n != f"{form}_complete"]
        if first:
            values.insert(0, (project.record_id_field, str(row[0])))
            if dag:
                values.insert(1, ("redcap_data_access_group", dag))
        if values:
            out.append(
                f"\t\t\t\t<ItemGroupData ItemGroupOID={attr(form + '.' + values[0][0])} "
                'ItemGroupRepeatKey="1">\n'
            )
            out.extend(
                f"\t\t\t\t\t<ItemData ItemOID={attr(n)} Value={attr(v)}/>\n" for n, v in values
            )
            out.append("\t\t\t\t</ItemGroupData>\n")
        complete = [v for n, v in items if n == f"{form}_complete"]
        if complete:
            out.append(
                f"\t\t\t\t<ItemGroupData ItemGroupOID={attr(form + '.' + form + '_complete')} "
                'ItemGroupRepeatKey="1">\n'
                f"\t\t\t\t\t<ItemData ItemOID={attr(form + '_complete')} Value={attr(complete[0])}/>\n"
                "\t\t\t\t</ItemGroupData>\n"
            )
        out.append("\t\t\t</FormData>\n")
        first = False
    out.append("\t\t</StudyEventData>\n")
    return "".join(out)
