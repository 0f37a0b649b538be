"""CDISC ODM 1.3.1 ClinicalData for record/report rows, streamed, in REDCap's layout.

The layout is read off real REDCap exports (``tests/data/redcap_projects/*.xml``, PyCap's test
projects, and the 28 ``project.xml`` files in REDCapR's ``inst/test-data/projects``)::

    <?xml version="1.0" encoding="UTF-8" ?>
    <ODM xmlns=... ODMVersion="1.3.1" FileOID="000-00-0000" FileType="Snapshot" ...>
    <ClinicalData StudyOID="Project.X" MetaDataVersionOID="Metadata.X_2025-05-02_1212">
    \t<SubjectData SubjectKey="1" redcap:RecordIdField="record_id">
    \t\t<StudyEventData StudyEventOID="Event.e_arm_1" StudyEventRepeatKey="1" redcap:UniqueEventName="e_arm_1">
    \t\t\t<FormData FormOID="Form.demographics" FormRepeatKey="1">
    \t\t\t\t<ItemGroupData ItemGroupOID="demographics.record_id" ItemGroupRepeatKey="1">
    \t\t\t\t\t<ItemData ItemOID="record_id" Value="1"/>
    ...
    </ClinicalData>
    </ODM>

What the fixtures show, and this writer does:

* one ``SubjectData`` per record (consecutive rows of a record are merged);
* classic projects have **no** ``StudyEventData``: ``FormData`` sits directly in
  ``SubjectData``, still indented with three tabs;
* longitudinal rows of one event share a ``StudyEventData``; a repeating event's instance is
  its ``StudyEventRepeatKey``, a repeating instrument's instance its ``FormRepeatKey``;
* blank values are left out; forms appear in field order; checkbox options are separate
  ``field___code`` items valued ``0``/``1`` (unchecked ones included, as exported);
* ``redcap_data_access_group`` is an ``ItemData`` right after the record-ID item;
* the record-ID item appears only where the data has it (not in repeating-instrument
  instances, nor in events whose forms do not include the record-ID form);
* ``<form>_complete`` is always its own ``ItemGroupData`` (``form.form_complete``); other items
  are grouped by the metadata's item groups (:attr:`OdmStudy.group_starts`): an item that
  begins a group opens a new ``ItemGroupData`` named after it, the others join the open one,
  and an item with no open group opens one with ``ItemGroupOID=""`` (as REDCap writes when a
  group's first item is blank). A ``<form>_timestamp`` only opens a group when none is open.
  A few splits in REDCap's output follow no rule visible in the metadata (in PyCap's long
  project ``meds___1`` begins a group in the metadata but not in the data); those are not
  reproduced. Importers, REDCap's included, do not depend on ``ItemGroupOID``.

Attribute values are escaped as PHP's ``htmlspecialchars`` does (``&amp; &lt; &gt; &quot;
&#039;``, the fixtures show ``&#039;``), and — unlike REDCap, which writes raw line breaks in
``Value`` that a conforming parser turns into spaces — CR, LF and tab are written as ``&#13;``,
``&#10;``, ``&#9;`` so they survive parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from localcap import REDCAP_VERSION
from localcap.formats.xml_writer import xml_safe
from localcap.model.numbers import small_int

NAMESPACES = (
    'xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:redcap="https://projectredcap.org" '
    'xsi:schemaLocation="http://www.cdisc.org/ns/odm/v1.3 schema/odm/ODM1-3-1.xsd"'
)
#: Flat-export columns that are not data items.
AUTOMATIC = frozenset(
    {
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
        "redcap_survey_identifier",
    }
)
CHUNK_BYTES = 1 << 16

_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#039;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def attr(value: str) -> str:
    """An attribute value, quoted: PHP ``htmlspecialchars`` escapes plus line-break references."""
    return '"' + xml_safe(value).translate(_ATTR_ESCAPES) + '"'


def study_oid_name(title: str) -> str:
    """REDCap's OID name for a project title: words capitalised, non-alphanumerics dropped,
    at most 30 characters (``REDCapR: arm-multiple-delete`` -> ``REDCapRArmmultipledelete``,
    ``REDCapR: potentially-problematic-dictionary`` -> ``REDCapRPotentiallyproblematicd``)."""
    words = re.split(r"([ \t\r\n\f\v]+)", title)
    capitalised = "".join(w[:1].upper() + w[1:] for w in words)
    return re.sub(r"[^A-Za-z0-9]", "", capitalised)[:30]


@dataclass(frozen=True)
class OdmStudy:
    """What the ClinicalData of one project needs to know about its design.

    ``field_form`` maps every exportable column (``field``, ``field___code``, ``form_complete``,
    ``form_timestamp``) to its instrument; columns not in it are not written. ``group_starts``
    maps the columns that begin a metadata item group to that group's OID (``form.column``);
    ``None`` means "unknown": then each form's first written item begins its group.
    ``form_labels``/``event_labels`` are not part of ClinicalData; they are carried for callers
    that also write the study metadata.
    """

    project_title: str
    record_id_field: str
    longitudinal: bool
    field_form: Mapping[str, str]
    group_starts: Mapping[str, str] | None = None
    study_oid: str = ""
    metadata_version_oid: str = ""
    source_system_version: str = REDCAP_VERSION
    form_labels: Mapping[str, str] = field(default_factory=dict)
    event_labels: Mapping[str, str] = field(default_factory=dict)
    as_of: datetime | None = None


@dataclass(frozen=True)
class OdmRecordRow:
    """One stored row: a record's data in one event (and repeat instance).

    ``event`` is the unique event name (``None`` in classic projects); ``repeat_instrument`` is
    ``""`` unless the row is an instance of a repeating instrument; ``instance`` is 1 for
    non-repeating rows; ``dag`` the unique DAG name or ``""``. ``values`` maps columns to
    values in field order; blank values are skipped, so a sparse mapping is fine. Include the
    record-ID field in ``values`` where REDCap writes it (see the module notes).
    """

    record: str
    event: str | None
    repeat_instrument: str
    instance: int
    dag: str
    values: Mapping[str, str]


def _header(study: OdmStudy) -> str:
    now = study.as_of or datetime.now()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
    name = study_oid_name(study.project_title)
    study_oid = study.study_oid or f"Project.{name}"
    metadata_oid = study.metadata_version_oid or f"Metadata.{name}_{now:%Y-%m-%d_%H%M}"
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        f'<ODM {NAMESPACES} ODMVersion="1.3.1" FileOID="000-00-0000" FileType="Snapshot" '
        f"Description={attr(study.project_title)} AsOfDateTime={attr(stamp)} "
        f'CreationDateTime={attr(stamp)} SourceSystem="REDCap" '
        f"SourceSystemVersion={attr(study.source_system_version)}>\n"
        f"<ClinicalData StudyOID={attr(study_oid)} MetaDataVersionOID={attr(metadata_oid)}>\n"
    )


def _form_xml(study: OdmStudy, form: str, key: int, items: list[tuple[str, str]]) -> str:
    out = [f'\t\t\t<FormData FormOID={attr("Form." + form)} FormRepeatKey="{key}">\n']
    complete = f"{form}_complete"
    starts = study.group_starts
    open_group = False
    for name, value in items:
        if name == complete:
            oid: str | None = f"{form}.{complete}"
        elif starts is None:
            oid = None if open_group else f"{form}.{name}"
        elif name in starts and not (open_group and name == f"{form}_timestamp"):
            oid = starts[name]
        else:
            oid = None if open_group else ""
        if oid is not None:
            if open_group:
                out.append("\t\t\t\t</ItemGroupData>\n")
            out.append(f'\t\t\t\t<ItemGroupData ItemGroupOID={attr(oid)} ItemGroupRepeatKey="1">\n')
            open_group = True
        out.append(f"\t\t\t\t\t<ItemData ItemOID={attr(name)} Value={attr(value)}/>\n")
    if open_group:
        out.append("\t\t\t\t</ItemGroupData>\n")
    out.append("\t\t\t</FormData>\n")
    return "".join(out)


def _row_forms(study: OdmStudy, row: OdmRecordRow) -> dict[str, list[tuple[str, str]]]:
    forms: dict[str, list[tuple[str, str]]] = {}
    field_form = study.field_form
    for name, value in row.values.items():
        if value == "" or value is None or name in AUTOMATIC:
            continue
        form = field_form.get(name)
        if form is None:
            continue
        items = forms.setdefault(form, [])
        items.append((name, value if isinstance(value, str) else str(value)))
        if name == study.record_id_field and row.dag:
            items.append(("redcap_data_access_group", row.dag))
    return forms


def write_odm(study: OdmStudy, rows: Iterable[OdmRecordRow], *legacy: Any) -> Iterator[bytes]:
    """Stream an ODM document holding the ClinicalData of ``rows`` (in ~64 KB chunks).

    Rows must come grouped by record (as every export orders them). The older call
    ``write_odm(project, header, flat_rows, column_forms)`` still works and is converted with
    :func:`odm_from_flat`; new code should pass an :class:`OdmStudy` and :class:`OdmRecordRow`s.
    """
    if legacy:
        header, flat_rows, column_forms = rows, legacy[0], legacy[1]
        study, rows = odm_from_flat(study, header, flat_rows, column_forms)  # type: ignore[arg-type]
    yield from _write(study, rows)


def _write(study: OdmStudy, rows: Iterable[OdmRecordRow]) -> Iterator[bytes]:
    parts = [_header(study)]
    size = 0
    subject: str | None = None
    event_key: tuple[str, int] | None = None
    for row in rows:
        forms = _row_forms(study, row)
        if not forms:
            continue
        if row.record != subject:
            if event_key is not None:
                parts.append("\t\t</StudyEventData>\n")
                event_key = None
            if subject is not None:
                parts.append("\t</SubjectData>\n")
            subject = row.record
            parts.append(
                f"\t<SubjectData SubjectKey={attr(row.record)} "
                f"redcap:RecordIdField={attr(study.record_id_field)}>\n"
            )
        repeat_form = row.repeat_instrument
        if study.longitudinal and row.event:
            key = (row.event, 1 if repeat_form else row.instance)
            if key != event_key:
                if event_key is not None:
                    parts.append("\t\t</StudyEventData>\n")
                parts.append(
                    f"\t\t<StudyEventData StudyEventOID={attr('Event.' + row.event)} "
                    f'StudyEventRepeatKey="{key[1]}" redcap:UniqueEventName={attr(row.event)}>\n'
                )
                event_key = key
        for form, items in forms.items():
            form_key = row.instance if repeat_form and form == repeat_form else 1
            text = _form_xml(study, form, form_key, items)
            parts.append(text)
            size += len(text)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    if event_key is not None:
        parts.append("\t\t</StudyEventData>\n")
    if subject is not None:
        parts.append("\t</SubjectData>\n")
    parts.append("</ClinicalData>\n</ODM>")
    yield "".join(parts).encode()


class OdmProject(Protocol):
    """What :func:`odm_from_flat` reads from ``localcap.model.project.Project``."""

    project_title: str
    record_id_field: str
    is_longitudinal: bool


def odm_from_flat(
    project: OdmProject,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    column_forms: Sequence[str | None],
) -> tuple[OdmStudy, Iterator[OdmRecordRow]]:
    """An :class:`OdmStudy` and :class:`OdmRecordRow` stream from a flat export's rows.

    ``column_forms`` gives each column's instrument (``None`` for automatic columns). The
    record-ID value is kept only where REDCap writes it: in non-repeating rows whose event
    includes the record-ID field's form (when the project says which forms an event has).
    Item groups follow the project's fields: a form's first field, a field with a section
    header, and a survey form's ``<form>_timestamp`` begin one.
    """
    record_field = project.record_id_field
    field_form = {n: f for n, f in zip(header, column_forms, strict=False) if f is not None}
    field_form[record_field] = field_form.get(record_field) or _form_of(project, record_field)
    study = OdmStudy(
        project_title=project.project_title,
        record_id_field=record_field,
        longitudinal=project.is_longitudinal,
        field_form=field_form,
        group_starts=_group_starts(project, header, field_form),
    )
    return study, _flat_rows(project, header, rows, field_form[record_field])


def _form_of(project: Any, name: str) -> str:
    form_of = getattr(project, "form_of", None)
    return (form_of(name) if form_of else None) or ""


def _group_starts(
    project: Any, header: Sequence[str], field_form: Mapping[str, str]
) -> dict[str, str]:
    fields = getattr(project, "field_by_name", None)
    first_of_form: set[str] = set()
    seen_forms: set[str] = set()
    for f in getattr(project, "fields", []):
        if f.form_name not in seen_forms:
            seen_forms.add(f.form_name)
            first_of_form.add(f.field_name)
    starts: dict[str, str] = {}
    previous_base = None
    for name in header:
        form = field_form.get(name)
        if form is None:
            continue
        base = name.split("___", 1)[0] if fields is not None and name not in fields else name
        if base == previous_base:
            continue
        previous_base = base
        info = fields.get(base) if fields is not None else None
        if (
            name == f"{form}_timestamp"
            or base in first_of_form
            or (info is not None and getattr(info, "section_header", ""))
        ):
            starts[name] = f"{form}.{name}"
    return starts


def _flat_rows(
    project: Any, header: Sequence[str], rows: Iterable[Sequence[Any]], record_form: str
) -> Iterator[OdmRecordRow]:
    index = {name: i for i, name in enumerate(header)}
    record_field = project.record_id_field
    event_at = index.get("redcap_event_name")
    form_at = index.get("redcap_repeat_instrument")
    instance_at = index.get("redcap_repeat_instance")
    dag_at = index.get("redcap_data_access_group")
    event_forms = _event_forms(project)
    for row in rows:
        record = str(row[index.get(record_field, 0)])
        event = str(row[event_at]) if event_at is not None else None
        repeat_form = str(row[form_at]) if form_at is not None else ""
        raw_instance = row[instance_at] if instance_at is not None else 1
        instance = small_int(str(raw_instance)) or 1
        values = {
            name: value if isinstance(value, str) else str(value)
            for name, value in zip(header, row, strict=False)
            if value not in ("", None) and name not in AUTOMATIC
        }
        forms_here = event_forms.get(event) if event is not None else None
        if repeat_form or (forms_here is not None and record_form not in forms_here):
            values.pop(record_field, None)
        yield OdmRecordRow(
            record=record,
            event=event or None,
            repeat_instrument=repeat_form,
            instance=instance,
            dag=str(row[dag_at]) if dag_at is not None else "",
            values=values,
        )


def _event_forms(project: Any) -> dict[str, set[str]]:
    """unique event name -> forms designated for it (empty when the project cannot say)."""
    events = getattr(project, "events", None) or []
    forms_in_event = getattr(project, "forms_in_event", None)
    if forms_in_event is None:
        return {}
    return {e.unique_event_name: set(forms_in_event(e.event_id)) for e in events}
