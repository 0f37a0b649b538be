"""Reading the design part of a project XML (everything before ``ClinicalData``) into memory.

The design is small, and the project can only be created once all of it is known (fields
refer to code lists defined after them, events to forms, reports to roles), so this module
only collects: :class:`Design` is a plain record of what the XML said. Each element has a
small handler in a table (element name -> method), so adding an element is one entry and
one method rather than another branch of one long chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from localcap.projectxml.importer.warninglist import Warnings

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
TEXT_ELEMENTS = ("TranslatedText", "redcap:FormattedTranslatedText", "CheckValue")


@dataclass
class Item:
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
class CodeList:
    attrs: dict[str, str]
    items: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Design:
    title: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    record_id_field: str = ""
    event_order: list[str] = field(default_factory=list)
    events: dict[str, dict[str, str]] = field(default_factory=dict)
    event_forms: dict[str, list[str]] = field(default_factory=dict)
    repeating_event_flags: set[str] = field(default_factory=set)
    forms: list[tuple[str, str, list[str]]] = field(default_factory=list)  # name, label, groups
    item_groups: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    codelists: dict[str, CodeList] = field(default_factory=dict)
    repeating: list[tuple[str, str, str]] = field(default_factory=list)  # event, form, label
    dags: list[str] = field(default_factory=list)
    surveys: dict[str, dict[str, str]] = field(default_factory=dict)
    survey_queue: list[dict[str, str]] = field(default_factory=list)
    reports: list[dict[str, str]] = field(default_factory=list)
    roles: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Cursor:
    """Where the reader is, shared by the design and clinical-data phases: the open
    elements, the text being collected for the innermost one, and the line (for errors)."""

    stack: list[str] = field(default_factory=list)
    text_parts: list[str] | None = None
    line: int = 0


Start = Callable[["DesignReader", dict[str, str]], None]
End = Callable[["DesignReader", str | None], None]


class DesignReader:
    """Collects a :class:`Design` from the start/end events of the design elements.

    ``on_complete`` is called when the design is over (``ClinicalData`` starts or ``Study``
    ends): the caller creates the project then.
    """

    def __init__(self, cursor: Cursor, warnings: Warnings, on_complete: Callable[[], None]):
        self.cursor = cursor
        self.warnings = warnings
        self.on_complete = on_complete
        self.design = Design()
        self._item: Item | None = None
        self._codelist: CodeList | None = None
        self._code: str | None = None
        self._range: dict[str, str] | None = None
        self._form: tuple[str, str, list[str]] | None = None
        self._group: list[tuple[str, str]] | None = None
        self._event: str | None = None
        self._setting: str | None = None

    # -- dispatch ---------------------------------------------------------------------------
    def start(self, name: str, parent: str, attrs: dict[str, str]) -> None:
        if self._setting is not None:
            self._setting = None  # it has children: a group, not a setting
            self.cursor.text_parts = None
        if parent == "GlobalVariables" and not attrs:
            self._setting = name  # a setting or the study's name, unless children follow
            self.cursor.text_parts = []
        handler = GLOBAL_STARTS.get(name)
        if handler is not None:
            handler(self, attrs)
        elif name.startswith("redcap:") and "GlobalVariables" in self.cursor.stack[:-1]:
            self._global_group(name, parent, attrs)
        elif name in TEXT_ELEMENTS:
            self.cursor.text_parts = []
        else:
            handler = STARTS.get(name)
            if handler is not None:
                handler(self, attrs)

    def end(self, name: str, parent: str, text: str | None) -> None:
        if name == self._setting and text is not None and parent == "GlobalVariables":
            self._end_setting(name, text)
            return
        handler = ENDS.get(name)
        if handler is not None:
            handler(self, text)

    # -- GlobalVariables --------------------------------------------------------------------
    def _global_group(self, name: str, parent: str, attrs: dict[str, str]) -> None:
        if name not in KNOWN_GROUPS and parent != "GlobalVariables":
            self.warnings.add(f"{name} entries are not supported and were not imported")
        elif name not in KNOWN_GROUPS and parent == "GlobalVariables" and attrs:
            self.warnings.add(f"{name} is not supported and was not imported")

    def _end_setting(self, name: str, text: str) -> None:
        self._setting = None
        if name in STUDY_TEXT:
            if name == "StudyName":
                self.design.title = text
        else:
            self.design.settings[name] = text

    def _role(self, attrs: dict[str, str]) -> None:
        self.design.roles.append(attrs)

    def _repeating_instrument(self, attrs: dict[str, str]) -> None:
        self.design.repeating.append(
            (
                attrs.get("redcap:UniqueEventName", ""),
                attrs.get("redcap:RepeatInstrument", ""),
                attrs.get("redcap:CustomLabel", ""),
            )
        )

    def _repeating_event(self, attrs: dict[str, str]) -> None:
        self.design.repeating.append((attrs.get("redcap:UniqueEventName", ""), "", ""))

    def _dag(self, attrs: dict[str, str]) -> None:
        self.design.dags.append(attrs.get("group_name", ""))

    def _survey(self, attrs: dict[str, str]) -> None:
        self.design.surveys[attrs.get("form_name", "")] = attrs

    def _queue_entry(self, attrs: dict[str, str]) -> None:
        self.design.survey_queue.append(attrs)

    def _report(self, attrs: dict[str, str]) -> None:
        self.design.reports.append(attrs)

    # -- MetaDataVersion: events and forms --------------------------------------------------
    def _metadata_version(self, attrs: dict[str, str]) -> None:
        self.design.record_id_field = attrs.get("redcap:RecordIdField", "")

    def _event_ref(self, attrs: dict[str, str]) -> None:
        self.design.event_order.append(attrs.get("StudyEventOID", ""))

    def _event_def(self, attrs: dict[str, str]) -> None:
        d = self.design
        oid = attrs.get("OID", "")
        d.events[oid] = attrs
        d.event_forms[oid] = []
        if attrs.get("Repeating") == "Yes":
            d.repeating_event_flags.add(attrs.get("redcap:UniqueEventName", ""))
        self._event = oid

    def _form_ref(self, attrs: dict[str, str]) -> None:
        if self._event is not None:
            form = attrs.get("redcap:FormName") or attrs.get("FormOID", "").removeprefix("Form.")
            self.design.event_forms[self._event].append(form)

    def _form_def(self, attrs: dict[str, str]) -> None:
        form_name = attrs.get("redcap:FormName") or attrs.get("OID", "").removeprefix("Form.")
        self._form = (form_name, attrs.get("Name", form_name), [])
        self.design.forms.append(self._form)

    def _group_ref(self, attrs: dict[str, str]) -> None:
        if self._form is not None:
            self._form[2].append(attrs.get("ItemGroupOID", ""))

    def _group_def(self, attrs: dict[str, str]) -> None:
        self._group = self.design.item_groups.setdefault(attrs.get("OID", ""), [])

    def _item_ref(self, attrs: dict[str, str]) -> None:
        if self._group is not None:
            oid = attrs.get("ItemOID", "")
            self._group.append((oid, attrs.get("redcap:Variable", oid)))

    # -- items and code lists ---------------------------------------------------------------
    def _item_def(self, attrs: dict[str, str]) -> None:
        oid = attrs.get("OID", "")
        self._item = Item(oid, attrs.get("redcap:Variable", attrs.get("Name", oid)), attrs)
        self.design.items.setdefault(oid, self._item)

    def _codelist_ref(self, attrs: dict[str, str]) -> None:
        if self._item is not None:
            self._item.codelist = attrs.get("CodeListOID", "")

    def _range_check(self, attrs: dict[str, str]) -> None:
        if self._item is not None:
            self._range = {"comparator": attrs.get("Comparator", "")}

    def _codelist(self, attrs: dict[str, str]) -> None:
        self._codelist = CodeList(attrs)
        self.design.codelists[attrs.get("OID", "")] = self._codelist

    def _codelist_item(self, attrs: dict[str, str]) -> None:
        self._code = attrs.get("CodedValue", "")

    def _clinical_data(self, attrs: dict[str, str]) -> None:
        self.on_complete()

    def _end_translated(self, text: str | None) -> None:
        if text is None:
            return
        if self._code is not None and self._codelist is not None:
            self._codelist.items.append((self._code, text))
        elif self._item is not None and "Question" in self.cursor.stack and self._range is None:
            self._item.label = text

    def _end_formatted(self, text: str | None) -> None:
        if text is None:
            return
        if self._code is not None and self._codelist is not None and self._codelist.items:
            self._codelist.items[-1] = (self._code, text)
        elif self._item is not None and self._codelist is None and self._range is None:
            self._item.formatted_label = text

    def _end_check_value(self, text: str | None) -> None:
        if text is not None and self._range is not None:
            self._range["value"] = text

    def _end_range_check(self, text: str | None) -> None:
        if self._range is not None and self._item is not None:
            if self._range.get("comparator") == "GE":
                self._item.minimum = self._range.get("value", "")
            elif self._range.get("comparator") == "LE":
                self._item.maximum = self._range.get("value", "")
            self._range = None

    def _end_item_def(self, text: str | None) -> None:
        self._item = None

    def _end_codelist(self, text: str | None) -> None:
        self._codelist = None

    def _end_codelist_item(self, text: str | None) -> None:
        self._code = None

    def _end_group_def(self, text: str | None) -> None:
        self._group = None

    def _end_form_def(self, text: str | None) -> None:
        self._form = None

    def _end_event_def(self, text: str | None) -> None:
        self._event = None

    def _end_study(self, text: str | None) -> None:
        self.on_complete()


#: GlobalVariables entries, looked up before the generic ``redcap:`` group check.
GLOBAL_STARTS: dict[str, Start] = {
    "redcap:UserRoles": DesignReader._role,
    "redcap:RepeatingInstrument": DesignReader._repeating_instrument,
    "redcap:RepeatingEvent": DesignReader._repeating_event,
    "redcap:DataAccessGroups": DesignReader._dag,
    "redcap:Surveys": DesignReader._survey,
    "redcap:SurveysQueue": DesignReader._queue_entry,
    "redcap:Reports": DesignReader._report,
}
STARTS: dict[str, Start] = {
    "MetaDataVersion": DesignReader._metadata_version,
    "StudyEventRef": DesignReader._event_ref,
    "StudyEventDef": DesignReader._event_def,
    "FormRef": DesignReader._form_ref,
    "FormDef": DesignReader._form_def,
    "ItemGroupRef": DesignReader._group_ref,
    "ItemGroupDef": DesignReader._group_def,
    "ItemRef": DesignReader._item_ref,
    "ItemDef": DesignReader._item_def,
    "CodeListRef": DesignReader._codelist_ref,
    "RangeCheck": DesignReader._range_check,
    "CodeList": DesignReader._codelist,
    "CodeListItem": DesignReader._codelist_item,
    "ClinicalData": DesignReader._clinical_data,
}
ENDS: dict[str, End] = {
    "TranslatedText": DesignReader._end_translated,
    "redcap:FormattedTranslatedText": DesignReader._end_formatted,
    "CheckValue": DesignReader._end_check_value,
    "RangeCheck": DesignReader._end_range_check,
    "ItemDef": DesignReader._end_item_def,
    "CodeList": DesignReader._end_codelist,
    "CodeListItem": DesignReader._end_codelist_item,
    "ItemGroupDef": DesignReader._end_group_def,
    "FormDef": DesignReader._end_form_def,
    "StudyEventDef": DesignReader._end_event_def,
    "Study": DesignReader._end_study,
}
