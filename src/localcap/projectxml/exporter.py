"""Stream a whole project as a REDCap project XML (Export Project XML, ``content=project_xml``).

The layout follows real REDCap exports (``tests/data/redcap_projects/*.xml``; docs/REDCAP_API.md): ``Study`` with
``GlobalVariables`` (settings, repeating setup, DAGs, surveys, reports) and
``MetaDataVersion`` (events, forms, item groups, items, code lists), then ``ClinicalData``.
Every data dictionary column goes into ``redcap:`` attributes so that
:mod:`localcap.projectxml.importer` (and REDCap's importer) restore the dictionary exactly.

Two deliberate differences from REDCap, both so that values survive a round trip: line breaks
inside attribute values are written as ``&#13;``/``&#10;`` (REDCap writes them raw, which a
conforming parser turns into spaces), and a CR in element text as ``&#13;``.

Rights are those of Export Records: the export rights level of each instrument removes
fields silently (identifiers for De-Identified / Remove-Identifiers users, and so on), a user
in a Data Access Group sees only that group's records and no ``redcap_data_access_group``
items, and files are written (``ItemDataBase64Binary``) only with ``exportFiles`` and "Full
Data Set" rights on the file's instrument.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from localcap import REDCAP_VERSION
from localcap.db.documents import Document
from localcap.db.roles import Role
from localcap.formats.odm import attr as odm_attr
from localcap.formats.xml_writer import xml_safe
from localcap.model.project import (
    FORM_STATUS_LABELS,
    Field,
    Project,
    checkbox_column,
    strip_tags,
)
from localcap.model.rights import FULL, Rights, allowed_export_fields, survey_fields_allowed
from localcap.model.rows import StoredRow
from localcap.model.surveys import Survey
from localcap.projectxml.importer import (
    INFO_SETTINGS,
    SETTING_DEFAULTS,
    XML_SETTINGS_KEY,
    XML_VALIDATIONS,
)
from localcap.projectxml.roles import role_attrs
from localcap.reports.definition import ReportDefinition

NAMESPACES = (
    'xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:redcap="https://projectredcap.org" '
    'xsi:schemaLocation="http://www.cdisc.org/ns/odm/v1.3 schema/odm/ODM1-3-1.xsd"'
)
#: GlobalVariables settings in REDCap's order (REDCap 15's doctest project).
SETTINGS_ORDER = (
    "redcap:RecordAutonumberingEnabled",
    "redcap:CustomRecordLabel",
    "redcap:SecondaryUniqueField",
    "redcap:SecondaryUniqueFieldDisplayValue",
    "redcap:SecondaryUniqueFieldDisplayLabel",
    "redcap:SchedulingEnabled",
    "redcap:SurveysEnabled",
    "redcap:SurveyInvitationEmailField",
    "redcap:RandomizationEnabled",
    "redcap:DisplayTodayNowButton",
    "redcap:PreventBranchingEraseValues",
    "redcap:RequireChangeReason",
    "redcap:DataHistoryPopup",
    "redcap:OrderRecordsByField",
    "redcap:taskCompleteStatus",
    "redcap:MyCapEnabled",
    "redcap:Purpose",
    "redcap:PurposeOther",
    "redcap:ProjectNotes",
    "redcap:SurveyQueueCustomText",
    "redcap:SurveyQueueHide",
    "redcap:MissingDataCodes",
    "redcap:ProtectedEmailMode",
    "redcap:ProtectedEmailModeCustomText",
    "redcap:ProtectedEmailModeTrigger",
    "redcap:ProtectedEmailModeLogo",
)
INFO_DEFAULTS = {"redcap:DisplayTodayNowButton": "1"}
#: Dictionary columns -> ``redcap:`` ItemDef attributes, in the order REDCap writes them.
ITEM_ATTRIBUTE_ORDER = (
    ("text_validation_type_or_show_slider_number", "redcap:TextValidationType"),
    ("field_note", "redcap:FieldNote"),
    ("section_header", "redcap:SectionHeader"),
    ("identifier", "redcap:Identifier"),
    ("branching_logic", "redcap:BranchingLogic"),
    ("custom_alignment", "redcap:CustomAlignment"),
    ("question_number", "redcap:QuestionNumber"),
    ("matrix_group_name", "redcap:MatrixGroupName"),
    ("matrix_ranking", "redcap:MatrixRanking"),
    ("required_field", "redcap:RequiredField"),
    ("field_annotation", "redcap:FieldAnnotation"),
)
XML_TYPES = {"notes": "textarea", "dropdown": "select"}
#: The dictionary's ``number``/``integer`` are ``float``/``int`` in REDCap's XML.
DICTIONARY_TO_XML_VALIDATIONS = {v: k for k, v in XML_VALIDATIONS.items()}
CHUNK_BYTES = 1 << 16
#: Raw bytes per base64 piece of a file (a multiple of 3: pieces concatenate cleanly).
FILE_PIECE = 3 * (1 << 18)

_TEXT_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#039;", "\r": "&#13;"}
)


def attr(value: Any) -> str:
    """A quoted attribute value, as in the ODM ClinicalData writer (same escapes)."""
    return odm_attr(str(value))


def text(value: Any) -> str:
    return xml_safe(str(value)).translate(_TEXT_ESCAPES)


def oid_name(title: str) -> str:
    """REDCap's OID name for a project title: words capitalised, non-alphanumerics dropped,
    at most 30 characters (``doctest project`` -> ``DoctestProject``)."""
    words = re.split(r"(\s+)", title)
    return re.sub(r"[^A-Za-z0-9]", "", "".join(w[:1].upper() + w[1:] for w in words))[:30]


@dataclass
class ExportOptions:
    """The parameters of Export Project XML, already checked."""

    metadata_only: bool = False
    fields: set[str] | None = None
    survey_fields: bool = False
    dags: bool = False
    files: bool = False


@dataclass
class ExportContext:
    project: Project
    rights: Rights
    group_id: int | None
    reports: Sequence[ReportDefinition]
    options: ExportOptions
    #: doc_id value -> document (None when it is not one of this project's)
    document: Callable[[str], Document | None]
    #: store key -> byte chunks
    open_file: Callable[[str], Iterator[bytes]]
    now: datetime | None = None
    #: Survey settings by form, and survey queue entries (event_id, form, settings).
    surveys: dict[str, Survey] = dataclass_field(default_factory=dict)
    survey_queue: Sequence[tuple[int, str, dict[str, Any]]] = ()
    #: The project's user roles (written in ``<redcap:UserRolesGroup>``).
    roles: Sequence[Role] = ()


def _data_type(f: Field) -> tuple[str, str]:
    v = f.validation
    if f.field_type in ("yesno", "truefalse", "checkbox"):
        return "boolean", "1"
    if f.field_type in ("radio", "dropdown"):
        return "text", "1"
    if f.field_type == "calc":
        return "float", "999"
    if f.field_type == "slider":
        return "integer", "999"
    if f.field_type == "text":
        if v.startswith("datetime"):
            return "datetime", "999"
        if v.startswith("date"):
            return "date", "999"
        if v in ("int", "integer"):
            return "integer", "999"
        if v in ("float", "number") or v.startswith("number_"):
            return "float", "999"
    return "text", "999"


def _question(label: str) -> str:
    plain = strip_tags(label)
    formatted = (
        f"<redcap:FormattedTranslatedText>{text(label)}</redcap:FormattedTranslatedText>"
        if plain != label
        else ""
    )
    return f"\t\t<Question><TranslatedText>{text(plain)}</TranslatedText>{formatted}</Question>\n"


def _codelist_items(items: Iterable[tuple[str, str]]) -> str:
    out = []
    for code, label in items:
        plain = strip_tags(label)
        formatted = (
            f"<redcap:FormattedTranslatedText>{text(label)}</redcap:FormattedTranslatedText>"
            if plain != label
            else ""
        )
        out.append(
            f"\t\t<CodeListItem CodedValue={attr(code)}><Decode><TranslatedText>{text(plain)}"
            f"</TranslatedText>{formatted}</Decode></CodeListItem>\n"
        )
    return "".join(out)


class ProjectXmlWriter:
    """Writes the design part; :meth:`clinical_data` streams the records."""

    def __init__(self, ctx: ExportContext) -> None:
        self.ctx = ctx
        self.project = ctx.project
        p = self.project
        self.name = oid_name(p.project_title)
        now = ctx.now or datetime.now()
        self.stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
        self.metadata_oid = f"Metadata.{self.name}_{now:%Y-%m-%d_%H%M}"
        self.allowed = allowed_export_fields(p, ctx.rights)
        if ctx.options.fields is not None:
            self.allowed &= ctx.options.fields | {p.record_id_field}
        self.with_dags = ctx.options.dags and ctx.group_id is None
        self.survey_forms = {
            f.form_name
            for f in p.forms
            if f.survey_enabled
            and ctx.options.survey_fields
            and survey_fields_allowed(ctx.rights, f.form_name)
        }

    # -- header and GlobalVariables ---------------------------------------------------------
    def head(self) -> str:
        p = self.project
        title = p.project_title
        return (
            '<?xml version="1.0" encoding="UTF-8" ?>\n'
            f'<ODM {NAMESPACES} ODMVersion="1.3.1" FileOID="000-00-0000" FileType="Snapshot" '
            f"Description={attr(title)} AsOfDateTime={attr(self.stamp)} "
            f'CreationDateTime={attr(self.stamp)} SourceSystem="REDCap" '
            f"SourceSystemVersion={attr(REDCAP_VERSION)}>\n"
            f"<Study OID={attr('Project.' + self.name)}>\n"
            "<GlobalVariables>\n"
            f"\t<StudyName>{text(title)}</StudyName>\n"
            "\t<StudyDescription>This file contains the metadata, events, and data for REDCap "
            f"project &quot;{text(title)}&quot;.</StudyDescription>\n"
            f"\t<ProtocolName>{text(title)}</ProtocolName>\n"
            + self._settings()
            + self._repeating()
            + self._dags()
            + self._surveys()
            + self._roles()
            + self._reports()
            + "</GlobalVariables>\n"
        )

    def _settings(self) -> str:
        p = self.project
        info = p.info
        kept: dict[str, str] = dict(info.get(XML_SETTINGS_KEY) or {})
        by_element = {element: key for element, key in INFO_SETTINGS.items()}
        out = []
        names = list(SETTINGS_ORDER) + [n for n in kept if n not in SETTINGS_ORDER]
        for name in names:
            if name == "redcap:SurveysEnabled":
                value: Any = int(any(f.survey_enabled for f in p.forms)) or info.get(
                    "surveys_enabled", 0
                )
            elif name in by_element:
                value = info.get(by_element[name], INFO_DEFAULTS.get(name, ""))
                if value in ("", None) and name in INFO_DEFAULTS:
                    value = INFO_DEFAULTS[name]
                if name in ("redcap:Purpose",) and value in ("", None):
                    value = 0
            else:
                value = kept.get(name, SETTING_DEFAULTS.get(name, "0" if "Enabled" in name else ""))
            out.append(f"\t<{name}>{text(value)}</{name}>\n")
        return "".join(out)

    def _repeating(self) -> str:
        p = self.project
        if not p.repeating:
            return ""
        names = {e.event_id: e.unique_event_name for e in p.events}
        default_event = "event_1_arm_1"
        instruments, events = [], []
        order = {e.event_id: i for i, e in enumerate(p.events)}
        forms = {f.form_name: i for i, f in enumerate(p.forms)}
        for (event_id, form), label in sorted(
            p.repeating.items(), key=lambda kv: (order.get(kv[0][0], 0), forms.get(kv[0][1], -1))
        ):
            event = names.get(event_id, default_event)
            if form:
                instruments.append(
                    f"\t\t\t<redcap:RepeatingInstrument redcap:UniqueEventName={attr(event)} "
                    f"redcap:RepeatInstrument={attr(form)} redcap:CustomLabel={attr(label)}/>\n"
                )
            else:
                events.append(
                    f"\t\t<redcap:RepeatingEvent redcap:UniqueEventName={attr(event)}/>\n"
                )
        body = "".join(events)
        if instruments:
            body += (
                "\t\t<redcap:RepeatingInstruments>\n"
                + "".join(instruments)
                + "\t\t</redcap:RepeatingInstruments>\n"
            )
        return (
            "\t<redcap:RepeatingInstrumentsAndEvents>\n"
            + body
            + "\t</redcap:RepeatingInstrumentsAndEvents>\n"
        )

    def _dags(self) -> str:
        if not self.project.dags:
            return ""
        items = "".join(
            f"\t\t<redcap:DataAccessGroups group_name={attr(d.group_name)}/>\n"
            for d in self.project.dags
        )
        return f"\t<redcap:DataAccessGroupsGroup>\n{items}\t</redcap:DataAccessGroupsGroup>\n"

    def _surveys(self) -> str:
        """Each survey's settings as they were imported or set (``localcap survey enable``)."""
        forms = [f for f in self.project.forms if f.survey_enabled]
        if not forms:
            return ""
        items = []
        for f in forms:
            survey = self.ctx.surveys.get(f.form_name)
            settings: dict[str, Any] = {"title": f.form_label, "survey_enabled": "1"}
            settings.update(survey.settings if survey else {})
            settings["survey_enabled"] = "1"
            items.append(
                f"\t\t<redcap:Surveys form_name={attr(f.form_name)} "
                + " ".join(f"{k}={attr(v)}" for k, v in settings.items())
                + "/>\n"
            )
        out = f"\t<redcap:SurveysGroup>\n{''.join(items)}\t</redcap:SurveysGroup>\n"
        names = {e.event_id: e.unique_event_name for e in self.project.events}
        queue = [
            "\t\t<redcap:SurveysQueue "
            + " ".join(f"{k}={attr(v)}" for k, v in settings.items())
            + f" event_id={attr(names.get(event_id, ''))} survey_id={attr(form)}/>\n"
            for event_id, form, settings in self.ctx.survey_queue
            if form in self.project.form_by_name and self.project.form_by_name[form].survey_enabled
        ]
        if queue:
            out += f"\t<redcap:SurveysQueueGroup>\n{''.join(queue)}\t</redcap:SurveysQueueGroup>\n"
        return out

    def _roles(self) -> str:
        if not self.ctx.roles:
            return ""
        items = "".join(
            "\t\t<redcap:UserRoles "
            + " ".join(
                f"{name}={attr(value)}"
                for name, value in role_attrs(
                    role.role_label, role.unique_role_name, role.rights, self.project
                )
            )
            + "/>\n"
            for role in self.ctx.roles
        )
        return f"\t<redcap:UserRolesGroup>\n{items}\t</redcap:UserRolesGroup>\n"

    def _reports(self) -> str:
        reports = self.ctx.reports
        if not reports:
            return ""
        out = ["\t<redcap:ReportsGroup>\n"]
        for order, r in enumerate(reports, start=1):
            sorts = list(r.order_by) + [None] * (3 - len(r.order_by))
            access = r.user_access
            a: list[tuple[str, Any]] = [
                ("title", r.title),
                ("unique_report_name", r.unique_report_name),
                ("report_order", order),
                ("user_access", "ALL" if access == "all" else "SELECTED"),
                ("user_edit_access", "ALL"),
                ("description", r.description),
                ("combine_checkbox_values", int(r.combine_checkbox_values)),
                ("output_dags", int(r.output_dags)),
                ("output_survey_fields", int(r.output_survey_fields)),
                ("output_missing_data_codes", 0),
                ("remove_line_breaks_in_values", int(r.remove_line_breaks)),
            ]
            for n, s in enumerate(sorts[:3], start=1):
                a.append((f"orderby_field{n}", s.field if s else ""))
                a.append((f"orderby_sort{n}", s.direction if s else ""))
            a += [
                ("advanced_logic", r.filter_logic),
                ("filter_type", r.filter_type),
                ("dynamic_filter1", ""),
                ("dynamic_filter2", ""),
                ("dynamic_filter3", ""),
                ("hash", ""),
                ("short_url", ""),
                ("is_public", 0),
                ("report_display_include_repeating_fields", int(r.include_repeating)),
                ("report_display_header", "BOTH"),
                ("report_display_data", "BOTH"),
                ("limiter_logic", r.filter_logic),
                ("redcap_reports_fields", ",".join(r.fields)),
                ("redcap_reports_filter_dags", ",".join(r.filter_dags)),
                ("redcap_reports_filter_events", ",".join(r.filter_events)),
            ]
            if access != "all":
                for kind in ("users", "roles", "dags"):
                    a.append((f"redcap_reports_user_access_{kind}", ",".join(access.get(kind, []))))
            digest = hashlib.sha1(  # noqa: S324 - an identifier, not security
                f"{r.unique_report_name}\0{r.title}".encode()
            ).hexdigest()
            a.append(("ID", digest))
            out.append("\t\t<redcap:Reports " + " ".join(f"{k}={attr(v)}" for k, v in a) + "/>\n")
        out.append("\t</redcap:ReportsGroup>\n")
        return "".join(out)

    # -- MetaDataVersion --------------------------------------------------------------------
    def metadata(self) -> str:
        p = self.project
        out = [
            f"<MetaDataVersion OID={attr(self.metadata_oid)} Name={attr(p.project_title)} "
            f"redcap:RecordIdField={attr(p.record_id_field)}>\n"
        ]
        if p.is_longitudinal:
            out.append("\t<Protocol>\n")
            for i, e in enumerate(p.events, start=1):
                out.append(
                    f"\t\t<StudyEventRef StudyEventOID={attr('Event.' + e.unique_event_name)} "
                    f'OrderNumber="{i}" Mandatory="No"/>\n'
                )
            out.append("\t</Protocol>\n")
            for e in p.events:
                arm = p.arm_by_num.get(e.arm_num)
                arm_name = arm.name if arm else f"Arm {e.arm_num}"
                repeating = "Yes" if p.is_repeating_event(e.event_id) else "No"
                out.append(
                    f"\t<StudyEventDef OID={attr('Event.' + e.unique_event_name)} "
                    f"Name={attr(p.event_label(e))} "
                    f'Type="Common" Repeating="{repeating}" redcap:EventName={attr(e.event_name)} '
                    f"redcap:CustomEventLabel={attr(e.custom_event_label)} "
                    f"redcap:UniqueEventName={attr(e.unique_event_name)} "
                    f'redcap:ArmNum="{e.arm_num}" redcap:ArmName={attr(arm_name)} '
                    f"redcap:DayOffset={attr(e.day_offset)} redcap:OffsetMin={attr(e.offset_min)} "
                    f"redcap:OffsetMax={attr(e.offset_max)}>\n"
                )
                for i, form in enumerate(p.forms_in_event(e.event_id), start=1):
                    out.append(
                        f'\t\t<FormRef FormOID={attr("Form." + form)} OrderNumber="{i}" '
                        f'Mandatory="No" redcap:FormName={attr(form)}/>\n'
                    )
                out.append("\t</StudyEventDef>\n")
        groups = self._item_groups()
        for form in p.forms:
            out.append(
                f"\t<FormDef OID={attr('Form.' + form.form_name)} Name={attr(form.form_label)} "
                f'Repeating="No" redcap:FormName={attr(form.form_name)}>\n'
            )
            for oid, _name, _items in groups[form.form_name]:
                out.append(f'\t\t<ItemGroupRef ItemGroupOID={attr(oid)} Mandatory="No"/>\n')
            out.append("\t</FormDef>\n")
        for form in p.forms:
            for oid, name, items in groups[form.form_name]:
                out.append(f'\t<ItemGroupDef OID={attr(oid)} Name={attr(name)} Repeating="No">\n')
                for column, variable in items:
                    out.append(
                        f'\t\t<ItemRef ItemOID={attr(column)} Mandatory="No" '
                        f"redcap:Variable={attr(variable)}/>\n"
                    )
                out.append("\t</ItemGroupDef>\n")
        codelists: list[str] = []
        for form in p.forms:
            for _oid, _name, items in groups[form.form_name]:
                for column, variable in items:
                    out.append(self._item_def(column, variable, form.form_name, codelists))
        out.extend(codelists)
        out.append("</MetaDataVersion>\n")
        return "".join(out)

    def _item_groups(self) -> dict[str, list[tuple[str, str, list[tuple[str, str]]]]]:
        """Form -> item groups (OID, name, [(column, variable)]): a group starts at the form's
        first field and at each section header; ``<form>_complete`` has its own."""
        p = self.project
        result: dict[str, list[tuple[str, str, list[tuple[str, str]]]]] = {}
        record_field = p.record_id_field
        for form in p.forms:
            groups: list[tuple[str, str, list[tuple[str, str]]]] = []
            fields = p.form_fields.get(form.form_name, [])
            pending: list[tuple[str, str]] = []
            if form.form_name in self.survey_forms:
                pending.append((f"{form.form_name}_timestamp", f"{form.form_name}_timestamp"))
            for f in [x for x in p.fields if x.form_name == form.form_name]:
                columns = (
                    [(checkbox_column(f.field_name, c), f.field_name) for c in f.choices]
                    if f.field_type == "checkbox"
                    else [(f.field_name, f.field_name)]
                )
                if not groups or f.section_header:
                    name = strip_tags(f.section_header) if f.section_header else form.form_label
                    groups.append((f"{form.form_name}.{columns[0][0]}", name, []))
                groups[-1][2].extend(columns)
                if f.field_name == record_field:
                    if self.with_dags:
                        groups[-1][2].append(("redcap_data_access_group",) * 2)
                    if self.survey_forms:
                        groups[-1][2].append(("redcap_survey_identifier",) * 2)
                if pending and f in fields:
                    groups[-1][2].extend(pending)
                    pending = []
            complete = form.complete_field
            groups.append((f"{form.form_name}.{complete}", "Form Status", [(complete, complete)]))
            result[form.form_name] = groups
        return result

    def _item_def(self, column: str, variable: str, form: str, codelists: list[str]) -> str:
        p = self.project
        if variable == f"{form}_complete":
            codelists.append(
                f"\t<CodeList OID={attr(column + '.choices')} Name={attr(column)} "
                f'DataType="text" redcap:Variable={attr(column)}>\n'
                + _codelist_items(FORM_STATUS_LABELS.items())
                + "\t</CodeList>\n"
            )
            return (
                f'\t<ItemDef OID={attr(column)} Name={attr(column)} DataType="text" Length="1" '
                f'redcap:Variable={attr(column)} redcap:FieldType="select" '
                'redcap:SectionHeader="Form Status">\n'
                + _question("Complete?")
                + f"\t\t<CodeListRef CodeListOID={attr(column + '.choices')}/>\n\t</ItemDef>\n"
            )
        f = p.field_by_name.get(variable)
        if f is None:  # automatic columns: DAG, survey identifier, survey timestamp
            labels = {
                "redcap_data_access_group": "Data Access Group",
                "redcap_survey_identifier": "Survey Identifier",
            }
            data_type = "datetime" if variable.endswith("_timestamp") else "text"
            return (
                f'\t<ItemDef OID={attr(column)} Name={attr(column)} DataType="{data_type}" '
                f'Length="999" redcap:Variable={attr(variable)}>\n'
                + _question(labels.get(variable, "Survey Timestamp"))
                + "\t</ItemDef>\n"
            )
        data_type, length = _data_type(f)
        attrs = [
            ("OID", column),
            ("Name", column),
            ("DataType", data_type),
            ("Length", length),
            ("redcap:Variable", variable),
            ("redcap:FieldType", XML_TYPES.get(f.field_type, f.field_type)),
        ]
        if f.field_type == "slider" and f.select_choices_or_calculations:
            attrs.append(("redcap:SliderLabels", f.select_choices_or_calculations))
        if f.field_type == "calc":
            attrs.append(("redcap:Calculation", f.select_choices_or_calculations))
        if f.field_type == "sql":
            attrs.append(("redcap:SqlQuery", f.select_choices_or_calculations))
        for column_name, attribute in ITEM_ATTRIBUTE_ORDER:
            value = getattr(f, column_name)
            if (
                column_name == "text_validation_type_or_show_slider_number"
                and f.field_type == "text"
            ):
                value = DICTIONARY_TO_XML_VALIDATIONS.get(value, value)
            if value:
                attrs.append((attribute, value))
        body = _question(f.field_label)
        if f.field_type == "text" and (f.text_validation_min or f.text_validation_max):
            message = (
                "The value you provided is outside the suggested range "
                f"({f.text_validation_min or 'no limit'} - {f.text_validation_max or 'no limit'})."
                " This value is admissible, but you may wish to double check it."
            )
            for comparator, value in (("GE", f.text_validation_min), ("LE", f.text_validation_max)):
                if value:
                    body += (
                        f'\t\t<RangeCheck Comparator="{comparator}" SoftHard="Soft">\n'
                        f"\t\t\t<CheckValue>{text(value)}</CheckValue>\n"
                        f"\t\t\t<ErrorMessage><TranslatedText>{text(message)}</TranslatedText>"
                        "</ErrorMessage>\n\t\t</RangeCheck>\n"
                    )
        choices = f.choices
        if choices:
            list_oid = f"{column}.choices"
            body += f"\t\t<CodeListRef CodeListOID={attr(list_oid)}/>\n"
            if f.field_type == "checkbox":
                items = _codelist_items([("1", "Checked"), ("0", "Unchecked")])
                extra = f" redcap:CheckboxChoices={attr(f.select_choices_or_calculations)}"
                kind = "boolean"
            else:
                items = _codelist_items(choices.items())
                extra = ""
                kind = "boolean" if f.field_type in ("yesno", "truefalse") else "text"
            codelists.append(
                f'\t<CodeList OID={attr(list_oid)} Name={attr(column)} DataType="{kind}" '
                f"redcap:Variable={attr(variable)}{extra}>\n{items}\t</CodeList>\n"
            )
        return (
            "\t<ItemDef " + " ".join(f"{k}={attr(v)}" for k, v in attrs) + ">\n"
            f"{body}\t</ItemDef>\n"
        )

    # -- ClinicalData -----------------------------------------------------------------------
    def clinical_head(self) -> str:
        return (
            f"<ClinicalData StudyOID={attr('Project.' + self.name)} "
            f"MetaDataVersionOID={attr(self.metadata_oid)}>\n"
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
            if name not in self.allowed:
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
        if stamp and form in self.survey_forms:
            items.insert(0, (f"{form}_timestamp", str(stamp), False))
        if complete in self.allowed and status not in (None, ""):
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
        event_key: tuple[int, int] | None = None
        dag_pending = ""
        for row in rows:
            if row.record != subject:
                if event_key is not None:
                    yield "\t\t</StudyEventData>\n"
                    event_key = None
                if subject is not None:
                    yield "\t</SubjectData>\n"
                subject = row.record
                dag_pending = dag_names.get(row.group_id, "") if self.with_dags else ""
                yield (
                    f"\t<SubjectData SubjectKey={attr(row.record)} "
                    f"redcap:RecordIdField={attr(record_field)}>\n"
                )
            forms = []
            for form in self._forms_of_row(row):
                items = self._form_items(row, form)
                if items or (form == record_form and not row.repeat_instrument and dag_pending):
                    forms.append((form, items))
            if not forms:
                continue
            if p.is_longitudinal:
                event = p.event_by_id.get(row.event_id)
                name = event.unique_event_name if event else ""
                instance = row.instance if p.is_repeating_event(row.event_id) else 1
                key = (row.event_id, instance)
                if key != event_key:
                    if event_key is not None:
                        yield "\t\t</StudyEventData>\n"
                    yield (
                        f"\t\t<StudyEventData StudyEventOID={attr('Event.' + name)} "
                        f'StudyEventRepeatKey="{instance}" redcap:UniqueEventName={attr(name)}>\n'
                    )
                    event_key = key
            for form, items in forms:
                form_key = row.instance if row.repeat_instrument == form else 1
                yield (
                    f'\t\t\t<FormData FormOID={attr("Form." + form)} FormRepeatKey="{form_key}">\n'
                )
                head: list[tuple[str, str, bool]] = []
                if form == record_form and not row.repeat_instrument:
                    head.append((record_field, row.record, False))
                if dag_pending:
                    head.append(("redcap_data_access_group", dag_pending, False))
                    dag_pending = ""
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
                            yield (
                                f"\t\t\t\t\t<ItemData ItemOID={attr(column)} Value={attr(value)}/>\n"
                            )
                    yield "\t\t\t\t</ItemGroupData>\n"
                for column, value, _ in status:
                    yield (
                        f"\t\t\t\t<ItemGroupData ItemGroupOID={attr(form + '.' + column)} "
                        'ItemGroupRepeatKey="1">\n'
                        f"\t\t\t\t\t<ItemData ItemOID={attr(column)} Value={attr(value)}/>\n"
                        "\t\t\t\t</ItemGroupData>\n"
                    )
                yield "\t\t\t</FormData>\n"
        if event_key is not None:
            yield "\t\t</StudyEventData>\n"
        if subject is not None:
            yield "\t</SubjectData>\n"


def write_project_xml(ctx: ExportContext, rows: Iterable[StoredRow]) -> Iterator[bytes]:
    """The whole document, in ~64 KB chunks (``rows`` is only read if data is exported)."""
    writer = ProjectXmlWriter(ctx)
    yield (writer.head() + writer.metadata() + "</Study>\n").encode()
    if not ctx.options.metadata_only:
        parts = [writer.clinical_head()]
        size = 0
        for piece in writer.clinical_data(rows):
            parts.append(piece)
            size += len(piece)
            if size >= CHUNK_BYTES:
                yield "".join(parts).encode()
                parts, size = [], 0
        parts.append("</ClinicalData>\n")
        yield "".join(parts).encode()
    yield b"</ODM>"
