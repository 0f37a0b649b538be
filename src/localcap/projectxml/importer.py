"""Build a whole project from a REDCap project XML, streaming, in one transaction.

The XML's layout (read off real REDCap exports: ``/work/shared/fixtures``, REDCapR's
``inst/test-data/projects/*/project.xml``):

* ``Study/GlobalVariables``: project settings as ``redcap:*`` elements, then groups of
  empty elements: ``RepeatingInstrumentsAndEvents``, ``DataAccessGroupsGroup``,
  ``SurveysGroup``, ``SurveysQueueGroup``, ``UserRolesGroup``, ``ReportsGroup`` ...
* ``Study/MetaDataVersion``: ``Protocol`` (event order), ``StudyEventDef`` (events with arm,
  offsets and their ``FormRef`` instruments), ``FormDef`` -> ``ItemGroupRef`` ->
  ``ItemGroupDef`` -> ``ItemRef`` (the field order), ``ItemDef`` (one per export column; the
  ``redcap:`` attributes carry the data dictionary columns), ``CodeList`` (choices).
* ``ClinicalData``: ``SubjectData`` per record -> ``StudyEventData`` (longitudinal only) ->
  ``FormData`` -> ``ItemGroupData`` -> ``ItemData Value=`` / ``ItemDataBase64Binary``.

The design is small and collected in memory; the project is created when ``</Study>`` is
read, then records are checked and written in batches of subjects as they stream past (the
checks are Import Records' own, so the same data rules hold), and files are decoded through
a spooled temporary file into the file store. Everything happens inside the caller's
transaction; :func:`import_project_xml` deletes stored file bytes again if anything fails,
so a refused file leaves nothing behind.

What localcap cannot represent is listed in :attr:`ImportResult.warnings`, never dropped
silently.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import orjson
from sqlalchemy import Connection, update

from localcap.db import documents as docs
from localcap.db import projects as store
from localcap.db import schema as t
from localcap.db import surveys as survey_store
from localcap.db.reports import save_reports
from localcap.db.roles import new_role_name, save_role
from localcap.files import sniff_mime
from localcap.files.mime import HEAD_SIZE
from localcap.files.store import FileStore
from localcap.model.dags import unique_group_name
from localcap.model.numbers import small_int
from localcap.model.project import (
    CLASSIC_EVENT_ID,
    Arm,
    Event,
    Field,
    Project,
    format_choices,
)
from localcap.model.record_import import ImportChecker, RecordImportError, write_plan
from localcap.model.rights import Rights
from localcap.projectxml.roles import rights_from_attrs
from localcap.projectxml.safexml import ProjectXmlError, SafeXmlReader
from localcap.reports.definition import OrderBy, ReportDefinition, ReportDefinitionError

#: REDCap's field types in the XML -> data dictionary field types.
FIELD_TYPES = {"textarea": "notes", "select": "dropdown"}
#: REDCap's validation names in the XML -> the names its data dictionary (Export Metadata)
#: uses: REDCapR recorded ``float``/``int`` fields of its project XMLs exported as
#: ``number``/``integer`` by real REDCap.
XML_VALIDATIONS = {"float": "number", "int": "integer"}
#: ``redcap:`` ItemDef attributes -> dictionary columns (choices, label, min/max elsewhere).
ITEM_ATTRIBUTES = {
    "redcap:SectionHeader": "section_header",
    "redcap:FieldNote": "field_note",
    "redcap:TextValidationType": "text_validation_type_or_show_slider_number",
    "redcap:Identifier": "identifier",
    "redcap:BranchingLogic": "branching_logic",
    "redcap:RequiredField": "required_field",
    "redcap:CustomAlignment": "custom_alignment",
    "redcap:QuestionNumber": "question_number",
    "redcap:MatrixGroupName": "matrix_group_name",
    "redcap:MatrixRanking": "matrix_ranking",
    "redcap:FieldAnnotation": "field_annotation",
}
#: GlobalVariables settings localcap keeps in Export Project Info (element -> info key).
INFO_SETTINGS = {
    "redcap:Purpose": "purpose",
    "redcap:PurposeOther": "purpose_other",
    "redcap:ProjectNotes": "project_notes",
    "redcap:CustomRecordLabel": "custom_record_label",
    "redcap:SecondaryUniqueField": "secondary_unique_field",
    "redcap:RecordAutonumberingEnabled": "record_autonumbering_enabled",
    "redcap:SchedulingEnabled": "scheduling_enabled",
    "redcap:SurveysEnabled": "surveys_enabled",
    "redcap:RandomizationEnabled": "randomization_enabled",
    "redcap:DisplayTodayNowButton": "display_today_now_button",
    "redcap:MissingDataCodes": "missing_data_codes",
    "redcap:PreventBranchingEraseValues": "bypass_branching_erase_field_prompt",
}
INT_INFO = frozenset(
    {
        "purpose",
        "record_autonumbering_enabled",
        "scheduling_enabled",
        "surveys_enabled",
        "randomization_enabled",
        "display_today_now_button",
        "bypass_branching_erase_field_prompt",
    }
)
#: Settings localcap keeps (and exports again) but does not act on; a warning names any
#: whose value differs from REDCap's default.
SETTING_DEFAULTS = {
    "redcap:SecondaryUniqueFieldDisplayValue": "1",
    "redcap:SecondaryUniqueFieldDisplayLabel": "1",
    "redcap:DataHistoryPopup": "1",
    "redcap:taskCompleteStatus": "2",
    "redcap:SurveyAuthApplyAllSurveys": "1",
    "redcap:ProtectedEmailModeTrigger": "ALL",
    "redcap:HideFilledForms": "1",
}
#: Info key under which those kept-but-unused settings live (exported back verbatim).
XML_SETTINGS_KEY = "project_xml_settings"
#: GlobalVariables groups localcap understands; any other group is named in a warning.
KNOWN_GROUPS = frozenset(
    {
        "redcap:RepeatingInstrumentsAndEvents",
        "redcap:RepeatingInstruments",
        "redcap:RepeatingInstrument",
        "redcap:RepeatingEvent",
        "redcap:DataAccessGroupsGroup",
        "redcap:DataAccessGroups",
        "redcap:SurveysGroup",
        "redcap:Surveys",
        "redcap:SurveysQueueGroup",
        "redcap:SurveysQueue",
        "redcap:ReportsGroup",
        "redcap:Reports",
    }
)
STUDY_TEXT = frozenset({"StudyName", "StudyDescription", "ProtocolName"})
#: Subjects per checked-and-written batch: bounds memory whatever the file size.
BATCH_SUBJECTS = 200
#: The longest unique role name the database holds.
MAX_ROLE_NAME = 50
READ_CHUNK = 1 << 20
PSEUDO_ITEMS = ("redcap_data_access_group", "redcap_survey_identifier")


@dataclass
class ImportResult:
    project_id: int
    token: str
    records: int
    files: int
    warnings: list[str]


@dataclass
class _Item:
    """One ItemDef: an export column (checkbox options have one each)."""

    oid: str
    variable: str
    attrs: dict[str, str]
    label: str = ""
    formatted_label: str | None = None
    codelist: str = ""
    minimum: str = ""
    maximum: str = ""


@dataclass
class _CodeList:
    attrs: dict[str, str]
    items: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Design:
    title: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    record_id_field: str = ""
    event_order: list[str] = field(default_factory=list)
    events: dict[str, dict[str, str]] = field(default_factory=dict)
    event_forms: dict[str, list[str]] = field(default_factory=dict)
    repeating_event_flags: set[str] = field(default_factory=set)
    forms: list[tuple[str, str, list[str]]] = field(default_factory=list)  # name, label, groups
    item_groups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    items: dict[str, _Item] = field(default_factory=dict)
    codelists: dict[str, _CodeList] = field(default_factory=dict)
    repeating: list[tuple[str, str, str]] = field(default_factory=list)  # event, form, label
    dags: list[str] = field(default_factory=list)
    surveys: dict[str, dict[str, str]] = field(default_factory=dict)
    survey_queue: list[dict[str, str]] = field(default_factory=list)
    reports: list[dict[str, str]] = field(default_factory=list)
    roles: list[dict[str, str]] = field(default_factory=list)


@dataclass
class _Row:
    values: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)  # files (doc ids), survey timestamps


class _Warnings:
    """An ordered, de-duplicated warning list."""

    def __init__(self) -> None:
        self.items: dict[str, None] = {}

    def add(self, message: str) -> None:
        self.items.setdefault(message, None)

    def as_list(self) -> list[str]:
        return list(self.items)


class ProjectXmlImporter:
    """The SAX-style consumer of :class:`SafeXmlReader` events (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        file_store: FileStore,
        *,
        title: str | None,
        info: dict[str, Any],
        username: str,
    ) -> None:
        self.conn = conn
        self.file_store = file_store
        self.title_override = (title or "").strip()
        self.base_info = info
        self.username = username
        self.design = _Design()
        self.warnings = _Warnings()
        self.stack: list[str] = []
        self.text_parts: list[str] | None = None
        self.project: Project | None = None
        self._calc_fields: set[str] = set()
        self.token = ""
        self.stored_keys: list[str] = []
        self.record_count = 0
        self.file_count = 0
        # element state
        self._item: _Item | None = None
        self._codelist: _CodeList | None = None
        self._code: str | None = None
        self._range: dict[str, str] | None = None
        self._form: tuple[str, str, list[str]] | None = None
        self._group: list[tuple[str, str]] | None = None
        self._event: str | None = None
        self._setting: str | None = None
        # clinical data state
        self._subject: str | None = None
        self._subject_line = 0
        self._rows: dict[tuple[str, str, int], _Row] = {}
        self._row: _Row | None = None
        self._se_event = ""
        self._se_key = 1
        self._form_name = ""
        self._form_key = 1
        self._batch: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self._batch_records = 0
        self._seen_subjects: set[str] = set()
        self._file: _FileSink | None = None
        self.line = 0
        self.role_names: set[str] = set()

    # -- SAX callbacks ----------------------------------------------------------------------
    def start(self, name: str, attrs: dict[str, str], line: int) -> None:
        self.line = line
        parent = self.stack[-1] if self.stack else ""
        self.stack.append(name)
        if self.project is None:
            self._start_design(name, parent, attrs)
        else:
            self._start_data(name, attrs)

    def end(self, name: str) -> None:
        self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        text = None
        if self.text_parts is not None:
            text = "".join(self.text_parts)
            self.text_parts = None
        if self.project is None:
            self._end_design(name, parent, text)
        else:
            self._end_data(name)

    def text(self, data: str) -> None:
        if self._file is not None:
            self._file.write(data)
        elif self.text_parts is not None:
            self.text_parts.append(data)

    # -- design -----------------------------------------------------------------------------
    def _start_design(self, name: str, parent: str, attrs: dict[str, str]) -> None:
        d = self.design
        if self._setting is not None:
            self._setting = None  # it has children: a group, not a setting
            self.text_parts = None
        if parent == "GlobalVariables" and not attrs:
            self._setting = name  # a setting or the study's name, unless children follow
            self.text_parts = []
        if name == "redcap:UserRoles":
            d.roles.append(attrs)
        elif name == "redcap:RepeatingInstrument":
            d.repeating.append(
                (
                    attrs.get("redcap:UniqueEventName", ""),
                    attrs.get("redcap:RepeatInstrument", ""),
                    attrs.get("redcap:CustomLabel", ""),
                )
            )
        elif name == "redcap:RepeatingEvent":
            d.repeating.append((attrs.get("redcap:UniqueEventName", ""), "", ""))
        elif name == "redcap:DataAccessGroups":
            d.dags.append(attrs.get("group_name", ""))
        elif name == "redcap:Surveys":
            d.surveys[attrs.get("form_name", "")] = attrs
        elif name == "redcap:SurveysQueue":
            d.survey_queue.append(attrs)
        elif name == "redcap:Reports":
            d.reports.append(attrs)
        elif name.startswith("redcap:") and "GlobalVariables" in self.stack[:-1]:
            if name not in KNOWN_GROUPS and parent != "GlobalVariables":
                self.warnings.add(f"{name} entries are not supported and were not imported")
            elif name not in KNOWN_GROUPS and parent == "GlobalVariables" and attrs:
                self.warnings.add(f"{name} is not supported and was not imported")
        elif name == "MetaDataVersion":
            d.record_id_field = attrs.get("redcap:RecordIdField", "")
        elif name == "StudyEventRef":
            d.event_order.append(attrs.get("StudyEventOID", ""))
        elif name == "StudyEventDef":
            oid = attrs.get("OID", "")
            d.events[oid] = attrs
            d.event_forms[oid] = []
            if attrs.get("Repeating") == "Yes":
                d.repeating_event_flags.add(attrs.get("redcap:UniqueEventName", ""))
            self._event = oid
        elif name == "FormRef" and self._event is not None:
            form = attrs.get("redcap:FormName") or attrs.get("FormOID", "").removeprefix("Form.")
            d.event_forms[self._event].append(form)
        elif name == "FormDef":
            form_name = attrs.get("redcap:FormName") or attrs.get("OID", "").removeprefix("Form.")
            self._form = (form_name, attrs.get("Name", form_name), [])
            d.forms.append(self._form)
        elif name == "ItemGroupRef" and self._form is not None:
            self._form[2].append(attrs.get("ItemGroupOID", ""))
        elif name == "ItemGroupDef":
            self._group = d.item_groups.setdefault(attrs.get("OID", ""), [])
        elif name == "ItemRef" and self._group is not None:
            oid = attrs.get("ItemOID", "")
            self._group.append((oid, attrs.get("redcap:Variable", oid)))
        elif name == "ItemDef":
            oid = attrs.get("OID", "")
            self._item = _Item(oid, attrs.get("redcap:Variable", attrs.get("Name", oid)), attrs)
            d.items.setdefault(oid, self._item)
        elif name in ("TranslatedText", "redcap:FormattedTranslatedText", "CheckValue"):
            self.text_parts = []
        elif name == "CodeListRef" and self._item is not None:
            self._item.codelist = attrs.get("CodeListOID", "")
        elif name == "RangeCheck" and self._item is not None:
            self._range = {"comparator": attrs.get("Comparator", "")}
        elif name == "CodeList":
            self._codelist = _CodeList(attrs)
            d.codelists[attrs.get("OID", "")] = self._codelist
        elif name == "CodeListItem":
            self._code = attrs.get("CodedValue", "")
        elif name == "ClinicalData":
            self._create_project()
            self._start_data(name, attrs)

    def _end_design(self, name: str, parent: str, text: str | None) -> None:
        d = self.design
        if name == self._setting and text is not None and parent == "GlobalVariables":
            self._setting = None
            if name in STUDY_TEXT:
                if name == "StudyName":
                    d.title = text
            else:
                d.settings[name] = text
        elif name == "TranslatedText" and text is not None:
            if self._code is not None and self._codelist is not None:
                self._codelist.items.append((self._code, text))
            elif self._item is not None and "Question" in self.stack and self._range is None:
                self._item.label = text
        elif name == "redcap:FormattedTranslatedText" and text is not None:
            if self._code is not None and self._codelist is not None and self._codelist.items:
                self._codelist.items[-1] = (self._code, text)
            elif self._item is not None and self._codelist is None and self._range is None:
                self._item.formatted_label = text
        elif name == "CheckValue" and text is not None and self._range is not None:
            self._range["value"] = text
        elif name == "RangeCheck" and self._range is not None and self._item is not None:
            if self._range.get("comparator") == "GE":
                self._item.minimum = self._range.get("value", "")
            elif self._range.get("comparator") == "LE":
                self._item.maximum = self._range.get("value", "")
            self._range = None
        elif name == "ItemDef":
            self._item = None
        elif name == "CodeList":
            self._codelist = None
        elif name == "CodeListItem":
            self._code = None
        elif name == "ItemGroupDef":
            self._group = None
        elif name == "FormDef":
            self._form = None
        elif name == "StudyEventDef":
            self._event = None
        elif name == "Study":
            self._create_project()

    # -- building the project ---------------------------------------------------------------
    def _fields(self) -> list[Field]:
        """The data dictionary: forms in order, their item groups' variables in order."""
        d = self.design
        fields: list[Field] = []
        seen: set[str] = set()
        for form_name, _label, groups in d.forms:
            for group in groups:
                for oid, variable in d.item_groups.get(group, []):
                    item = d.items.get(oid)
                    if variable in seen or variable in PSEUDO_ITEMS or item is None:
                        continue
                    if variable in (f"{form_name}_complete", f"{form_name}_timestamp"):
                        continue
                    if "redcap:FieldType" not in item.attrs:
                        continue  # survey timestamps and other automatic columns
                    seen.add(variable)
                    fields.append(self._field(item, form_name))
        record_field = d.record_id_field
        if record_field and fields and fields[0].field_name != record_field:
            raise ProjectXmlError(
                f"The record ID field {record_field} is not the first field of the first form"
            )
        return fields

    def _field(self, item: _Item, form_name: str) -> Field:
        a = item.attrs
        raw_type = a.get("redcap:FieldType", "text")
        field_type = FIELD_TYPES.get(raw_type, raw_type)
        values = {column: a.get(attr, "") for attr, column in ITEM_ATTRIBUTES.items()}
        validation = values["text_validation_type_or_show_slider_number"]
        if field_type == "text" and validation in XML_VALIDATIONS:
            values["text_validation_type_or_show_slider_number"] = XML_VALIDATIONS[validation]
        codelist = self.design.codelists.get(item.codelist)
        choices = ""
        if field_type == "calc":
            choices = a.get("redcap:Calculation", "")
        elif field_type == "checkbox":
            choices = a.get("redcap:CheckboxChoices") or (
                codelist.attrs.get("redcap:CheckboxChoices", "") if codelist else ""
            )
        elif field_type in ("radio", "dropdown"):
            choices = format_choices(dict(codelist.items)) if codelist else ""
        elif field_type == "slider":
            choices = a.get("redcap:SliderLabels", "")
        elif field_type == "sql":
            choices = a.get("redcap:SqlQuery", "")
            if not choices:
                self.warnings.add(
                    f"The SQL query of the sql field '{item.variable}' is not in the XML: the "
                    "field was imported without it"
                )
        label = item.formatted_label if item.formatted_label is not None else item.label
        return Field(
            field_name=item.variable,
            form_name=form_name,
            field_type=field_type,
            field_label=label,
            select_choices_or_calculations=choices,
            text_validation_min=item.minimum,
            text_validation_max=item.maximum,
            **values,
        )

    def _info(self) -> dict[str, Any]:
        info = dict(self.base_info)
        kept: dict[str, str] = {}
        for name, value in self.design.settings.items():
            key = INFO_SETTINGS.get(name)
            if key is not None:
                if key == "purpose" and "purpose" in info and self.title_override:
                    continue  # the Create Project call's own purpose wins
                if key in INT_INFO:
                    try:
                        info[key] = int(value.strip() or 0)
                    except ValueError:
                        info[key] = 0
                else:
                    info[key] = value
                continue
            kept[name] = value
            if value.strip() not in ("", "0", SETTING_DEFAULTS.get(name, "0")):
                self.warnings.add(
                    f"The project setting {name}={value!r} is kept but has no effect in localcap"
                )
        info[XML_SETTINGS_KEY] = kept
        return info

    def _create_project(self) -> None:
        if self.project is not None:
            return
        d = self.design
        conn = self.conn
        title = self.title_override or d.title.strip()
        if not title:
            raise ProjectXmlError("The project XML has no StudyName and no title was given")
        if not d.forms:
            raise ProjectXmlError("The project XML has no instruments (no FormDef in Study)")
        fields = self._fields()
        if not fields:
            raise ProjectXmlError("The project XML has no fields (no ItemDef with a field type)")
        longitudinal = bool(d.events)
        pid = store.create_project(conn, title, longitudinal, self._info())
        project = store.load_project(conn, pid)
        assert project is not None
        store.replace_metadata(conn, project, fields)
        for form_name, label, _groups in d.forms:
            survey = d.surveys.get(form_name, {})
            enabled = bool(survey) and survey.get("survey_enabled", "1") == "1"
            conn.execute(
                update(t.forms)
                .where(t.forms.c.project_id == pid, t.forms.c.form_name == form_name)
                .values(form_label=label, survey_enabled=enabled)
            )
        if longitudinal:
            self._create_events(pid)
        project = store.load_project(conn, pid)
        assert project is not None
        self._create_surveys(project)
        self._create_repeating(project)
        taken: set[str] = set()

        for group_name in d.dags:
            unique = unique_group_name(group_name, taken)
            taken.add(unique)
            store.save_dag(conn, pid, group_name, unique)
        project = store.load_project(conn, pid)
        assert project is not None
        self.project = project
        self._calc_fields = {f.field_name for f in project.fields if f.field_type == "calc"}
        self._create_roles(project)
        self._create_reports(project)
        store.ensure_user(conn, self.username)
        store.save_project_user(conn, pid, self.username, Rights.full(project), None)
        from localcap.db.tokens import create_project_token

        self.token = create_project_token(conn, pid, self.username)

    def _create_surveys(self, project: Project) -> None:
        """Survey settings and the survey queue, kept whole (exported back as they came)."""
        d = self.design
        for form_name, attrs in d.surveys.items():
            if form_name not in project.form_by_name:
                self.warnings.add(
                    f"Survey settings for an unknown instrument '{form_name}' were ignored"
                )
                continue
            settings = {k: v for k, v in attrs.items() if k != "form_name"}
            if settings.get("survey_enabled", "1") == "1":
                survey_store.save_survey(self.conn, project.project_id, form_name, settings)
        for attrs in d.survey_queue:
            form_name = attrs.get("survey_id", "")
            event_name = attrs.get("event_id", "")
            event_id = CLASSIC_EVENT_ID
            if project.is_longitudinal:
                event = project.event_by_name.get(event_name)
                event_id = event.event_id if event is not None else -1
            if form_name not in d.surveys or event_id < 0:
                self.warnings.add(
                    f"A survey queue entry for '{form_name}' ({event_name}) names no survey "
                    "of the project and was ignored"
                )
                continue
            settings = {k: v for k, v in attrs.items() if k not in ("survey_id", "event_id")}
            survey_store.save_queue_entry(
                self.conn, project.project_id, event_id, form_name, settings
            )

    def _create_events(self, pid: int) -> None:
        d = self.design
        order = [oid for oid in d.event_order if oid in d.events]
        order += [oid for oid in d.events if oid not in order]
        arms: dict[int, str] = {}
        events: list[Event] = []
        for oid in order:
            a = d.events[oid]
            try:
                arm_num = int(a.get("redcap:ArmNum", "1") or 1)
            except ValueError:
                raise ProjectXmlError(f"Event {oid}: redcap:ArmNum is not a number") from None
            arms.setdefault(arm_num, a.get("redcap:ArmName", "") or f"Arm {arm_num}")
            unique = a.get("redcap:UniqueEventName") or oid.removeprefix("Event.")
            events.append(
                Event(
                    0,
                    arm_num,
                    a.get("redcap:EventName") or a.get("Name", unique),
                    unique,
                    a.get("redcap:DayOffset", "0") or "0",
                    a.get("redcap:OffsetMin", "0") or "0",
                    a.get("redcap:OffsetMax", "0") or "0",
                    a.get("redcap:CustomEventLabel", ""),
                )
            )
        arm_list = [Arm(num, name) for num, name in sorted(arms.items())]
        store.replace_arms(self.conn, pid, arm_list, override=False)
        events.sort(key=lambda e: e.arm_num)  # stable: the Protocol order within an arm
        store.save_events(self.conn, pid, events, override=False)
        project = store.load_project(self.conn, pid)
        assert project is not None
        known_forms = set(project.form_by_name)
        mapping = []
        for oid in order:
            unique = d.events[oid].get("redcap:UniqueEventName") or oid.removeprefix("Event.")
            event = project.event_by_name[unique]
            for form in d.event_forms.get(oid, []):
                if form not in known_forms:
                    raise ProjectXmlError(f"Event {unique} refers to an unknown instrument {form}")
                mapping.append((event.event_id, form))
        store.replace_event_forms(self.conn, pid, mapping, set(arms))

    def _create_repeating(self, project: Project) -> None:
        d = self.design
        entries: dict[tuple[int, str], str] = {}
        flagged = [(name, "", "") for name in sorted(d.repeating_event_flags)]
        for event_name, form, label in d.repeating + flagged:
            if project.is_longitudinal:
                event = project.event_by_name.get(event_name)
                if event is None:
                    raise ProjectXmlError(
                        f"The repeating setup refers to an unknown event {event_name}"
                    )
                event_id = event.event_id
            else:
                event_id = CLASSIC_EVENT_ID
            if form and form not in project.form_by_name:
                raise ProjectXmlError(f"The repeating setup refers to an unknown instrument {form}")
            entries.setdefault((event_id, form), label)
        if entries:
            store.replace_repeating(
                self.conn, project.project_id, [(e, f, lbl) for (e, f), lbl in entries.items()]
            )

    def _create_roles(self, project: Project) -> None:
        """User roles, with the XML's unique role names (REDCap keeps them on import, so a
        report limited to a role still names it); a missing or repeated one gets a new name."""
        taken: set[str] = set()
        for attrs in self.design.roles:
            label = attrs.get("role_name", "").strip()
            if not label:
                self.warnings.add("A user role without a role_name was not imported")
                continue
            unique = attrs.get("unique_role_name", "").strip()
            if not unique or unique in taken or len(unique) > MAX_ROLE_NAME:
                unique = new_role_name(taken)
            taken.add(unique)
            rights = rights_from_attrs(attrs, project, self.warnings.add)
            save_role(self.conn, project.project_id, unique, label, rights)
        self.role_names = taken

    def _create_reports(self, project: Project) -> None:
        definitions = []
        for attrs in self.design.reports:
            title = attrs.get("title", "") or attrs.get("unique_report_name", "report")
            try:
                definition = report_from_attrs(attrs, self.warnings, self.role_names)
                definition.validate(project)
            except ReportDefinitionError as exc:
                self.warnings.add(f"Report '{title}' was not imported: {exc}")
                continue
            definitions.append(definition)
        if definitions:
            save_reports(self.conn, project.project_id, definitions)

    # -- clinical data ----------------------------------------------------------------------
    def _start_data(self, name: str, attrs: dict[str, str]) -> None:
        if name == "SubjectData":
            self._subject = attrs.get("SubjectKey", "")
            self._subject_line = self.line
            if not self._subject.strip():
                raise ProjectXmlError("SubjectData without a SubjectKey", self.line)
            self._se_event, self._se_key = "", 1
        elif name == "StudyEventData":
            self._se_event = attrs.get("redcap:UniqueEventName") or attrs.get(
                "StudyEventOID", ""
            ).removeprefix("Event.")
            self._se_key = _key(attrs.get("StudyEventRepeatKey", "1"), self.line)
        elif name == "FormData":
            self._form_name = attrs.get("FormOID", "").removeprefix("Form.")
            self._form_key = _key(attrs.get("FormRepeatKey", "1"), self.line)
            self._row = self._row_for(self._form_name)
        elif name == "ItemData":
            self._item_value(attrs.get("ItemOID", ""), attrs.get("Value", ""))
        elif name == "ItemDataBase64Binary":
            self._file = _FileSink(attrs.get("ItemOID", ""), attrs.get("redcap:DocName", ""))
        elif name in ("ClinicalData", "ItemGroupData", "ODM"):
            pass
        else:
            where = "in ClinicalData " if "ClinicalData" in self.stack else ""
            self.warnings.add(f"<{name}> elements {where}are not supported (ignored)")

    def _row_for(self, form: str) -> _Row:
        project = self.project
        assert project is not None
        if form not in project.form_by_name:
            raise ProjectXmlError(f"FormData refers to an unknown instrument {form}", self.line)
        event_id = CLASSIC_EVENT_ID
        if project.is_longitudinal:
            event = project.event_by_name.get(self._se_event)
            if event is None:
                raise ProjectXmlError(
                    f"StudyEventData refers to an unknown event '{self._se_event}'", self.line
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
        row = self._row
        if row is None:
            raise ProjectXmlError(f"ItemData {name} outside FormData", self.line)
        if name == "redcap_survey_identifier":
            if value:
                self.warnings.add("Survey identifiers (redcap_survey_identifier) are not kept")
            return
        if name.endswith("_timestamp") and name.removesuffix("_timestamp") in (
            self.project.form_by_name if self.project else {}
        ):
            row.extras[name] = value
            return
        if name in self._calc_fields:
            # REDCap does not keep a project XML's values of calculated fields; it computes
            # them once the records are in (see _flush and docs/CLIENTS.md).
            if value:
                self.warnings.add(
                    "Values of calculated fields were not imported but computed, as REDCap "
                    "does with a project XML"
                )
            return
        row.values[name] = value

    def _end_data(self, name: str) -> None:
        if name == "ItemDataBase64Binary":
            self._store_file()
        elif name == "FormData":
            self._row = None
        elif name == "SubjectData":
            self._finish_subject()
        elif name == "ClinicalData":
            self._flush()

    def _store_file(self) -> None:
        sink = self._file
        self._file = None
        assert sink is not None
        project = self.project
        assert project is not None
        f = project.field_by_name.get(sink.field)
        if f is None or f.field_type != "file":
            raise ProjectXmlError(
                f"ItemDataBase64Binary for '{sink.field}', which is not a file field", self.line
            )
        if self._row is None:
            raise ProjectXmlError("ItemDataBase64Binary outside FormData", self.line)
        try:
            stored = self.file_store.put(sink.chunks())
        except binascii.Error:
            raise ProjectXmlError(
                f"The file of field '{sink.field}' is not valid base64", self.line
            ) from None
        self.stored_keys.append(stored.key)
        name = sink.name or "file"
        doc_id = docs.insert_document(
            self.conn,
            project.project_id,
            store_key=stored.key,
            name=name,
            mime_type=sniff_mime(sink.head, name),
            size=stored.size,
            sha256=stored.sha256,
        )
        self._row.extras[sink.field] = str(doc_id)
        self.file_count += 1

    def _finish_subject(self) -> None:
        project = self.project
        assert project is not None and self._subject is not None
        record = self._subject
        if record in self._seen_subjects:
            raise ProjectXmlError(f"The record '{record}' appears twice", self._subject_line)
        self._seen_subjects.add(record)
        record_field = project.record_id_field
        dag_done = False
        for (event, instrument, instance), row in self._rows.items():
            values = dict(row.values)
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
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        project = self.project
        assert project is not None
        rows = [values for _, values, _ in self._batch]
        # Values that fail their field's validation or choices are kept, as REDCap keeps them
        # (REDCapR's "potentially problematic values" project loads on real REDCap servers).
        checker = ImportChecker(project, keep_invalid=True)
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
            write_plan(self.conn, project, plan, group_id=None, overwrite=False)
        except RecordImportError as exc:
            raise ProjectXmlError(exc.message) from None
        self._batch = []
        self._batch_records = 0

    def finish(self) -> ImportResult:
        if self.project is None:
            self._create_project()
        self._flush()
        assert self.project is not None
        return ImportResult(
            self.project.project_id,
            self.token,
            self.record_count,
            self.file_count,
            self.warnings.as_list(),
        )


def _key(text: str, line: int) -> int:
    text = (text or "1").strip()
    number = small_int(text, 2**31 - 1, minimum=1)
    if number is None:
        raise ProjectXmlError(f"A repeat key must be a positive number, not {text!r}", line)
    return number


class _FileSink:
    """Base64 text arriving in pieces -> decoded bytes in a spooled temporary file."""

    SPOOL = 8 << 20

    def __init__(self, field_name: str, name: str) -> None:
        self.field = field_name
        self.name = name
        self.buffer: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=self.SPOOL)  # noqa: SIM115 - closed by chunks()
        self.rest = ""
        self.head = b""

    def write(self, text: str) -> None:
        text = self.rest + re.sub(r"\s+", "", text)
        cut = len(text) - len(text) % 4
        self.rest = text[cut:]
        if cut:
            self._out(base64.b64decode(text[:cut], validate=True))

    def _out(self, data: bytes) -> None:
        if len(self.head) < HEAD_SIZE:
            self.head += data[: HEAD_SIZE - len(self.head)]
        self.buffer.write(data)

    def chunks(self) -> Iterator[bytes]:
        if self.rest:
            self._out(base64.b64decode(self.rest + "=" * (-len(self.rest) % 4), validate=True))
            self.rest = ""
        self.buffer.seek(0)
        try:
            while chunk := self.buffer.read(READ_CHUNK):
                yield chunk
        finally:
            self.buffer.close()


def _flag(attrs: dict[str, str], name: str, default: bool) -> bool:
    value = attrs.get(name)
    if value is None or value == "":
        return default
    return value.strip() == "1"


def report_from_attrs(
    attrs: dict[str, str], warnings: _Warnings, role_names: set[str] | None = None
) -> ReportDefinition:
    """A ``<redcap:Reports .../>`` element as a :class:`ReportDefinition` (no report id: the
    server assigns one, as REDCap does on import; the unique name is kept)."""
    title = attrs.get("title", "").strip()
    if not title:
        raise ReportDefinitionError("a report needs a title")
    orders = []
    for n in (1, 2, 3):
        f = attrs.get(f"orderby_field{n}", "").strip()
        if f:
            direction = (attrs.get(f"orderby_sort{n}", "") or "ASC").strip().upper()
            orders.append(OrderBy(f, direction if direction in ("ASC", "DESC") else "ASC"))
    access: Any = "all"
    if attrs.get("user_access", "ALL").strip().upper() != "ALL":
        access = {
            "users": _split(attrs.get("redcap_reports_user_access_users", "")),
            "roles": _split(attrs.get("redcap_reports_user_access_roles", "")),
            "dags": _split(attrs.get("redcap_reports_user_access_dags", "")),
        }
        unknown = [r for r in access["roles"] if r not in (role_names or set())]
        if unknown:
            warnings.add(
                f"Report '{title}': access is limited to user roles the XML does not define "
                f"({', '.join(unknown)}): users in roles of those names will see it"
            )
    for name in ("dynamic_filter1", "dynamic_filter2", "dynamic_filter3"):
        if attrs.get(name, "").strip():
            warnings.add(f"Report '{title}': live filters ({name}) exist only in REDCap's web UI")
    if attrs.get("output_missing_data_codes", "0").strip() not in ("", "0"):
        warnings.add(f"Report '{title}': output_missing_data_codes is not supported")
    filter_type = attrs.get("filter_type", "EVENT").strip().upper() or "EVENT"
    return ReportDefinition(
        title=title,
        fields=_split(attrs.get("redcap_reports_fields", "")),
        report_id=None,
        unique_report_name=attrs.get("unique_report_name", ""),
        description=attrs.get("description", ""),
        filter_logic=attrs.get("advanced_logic", ""),
        filter_type=filter_type if filter_type in ("EVENT", "RECORD") else "EVENT",
        filter_events=_split(attrs.get("redcap_reports_filter_events", "")),
        filter_dags=_split(attrs.get("redcap_reports_filter_dags", "")),
        order_by=orders,
        output_dags=_flag(attrs, "output_dags", False),
        output_survey_fields=_flag(attrs, "output_survey_fields", False),
        combine_checkbox_values=_flag(attrs, "combine_checkbox_values", False),
        remove_line_breaks=_flag(attrs, "remove_line_breaks_in_values", True),
        include_repeating=_flag(attrs, "report_display_include_repeating_fields", True),
        user_access=access,
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def import_project_xml(
    conn: Connection,
    file_store: FileStore,
    chunks: Iterable[bytes],
    *,
    username: str,
    title: str | None = None,
    info: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a whole project XML inside the caller's transaction (``conn``).

    Raises :class:`ProjectXmlError` for anything invalid; the caller must then roll back.
    File bytes already written to the store are deleted here on failure (they were never
    committed), so nothing of a refused import remains.
    """
    base = dict(info or {})
    base.setdefault("creation_time", datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
    importer = ProjectXmlImporter(conn, file_store, title=title, info=base, username=username)
    reader = SafeXmlReader(importer.start, importer.end, importer.text)
    try:
        for chunk in chunks:
            reader.feed(chunk)
            if progress is not None:
                progress(len(chunk))
        reader.close()
        if not reader.seen_root:
            raise ProjectXmlError("The file is empty")
        return importer.finish()
    except BaseException as exc:
        for key in importer.stored_keys:
            with contextlib.suppress(Exception):  # the original error matters more
                file_store.delete(key)
        if isinstance(exc, ProjectXmlError) and exc.line is None and importer.line:
            exc.line = importer.line
        raise


def dump_warnings(warnings: list[str]) -> str:
    """The warning list as JSON (for logs and the CLI's ``--json``)."""
    return orjson.dumps(warnings).decode()
