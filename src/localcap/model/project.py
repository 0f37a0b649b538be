"""The in-memory model of one project's design, loaded per request from the database.

Everything an export needs to turn stored rows into REDCap's flat rows lives here: field
order, instruments, arms and events, the instrument-event mapping, repeating setup and DAGs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

#: The 18 data dictionary columns, in REDCap's order (Export Metadata).
METADATA_COLUMNS: tuple[str, ...] = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)

FIELD_TYPES = frozenset(
    {
        "text",
        "notes",
        "dropdown",
        "radio",
        "checkbox",
        "yesno",
        "truefalse",
        "calc",
        "file",
        "slider",
        "descriptive",
        "sql",
    }
)

#: Validation types whose values are numbers (for decimalCharacter and numeric sorting).
NUMBER_VALIDATIONS = frozenset(
    {
        "number",
        "integer",
        "float",
        "int",
        "number_1dp",
        "number_2dp",
        "number_3dp",
        "number_4dp",
        "number_1dp_comma_decimal",
        "number_2dp_comma_decimal",
        "number_3dp_comma_decimal",
        "number_4dp_comma_decimal",
        "number_comma_decimal",
    }
)

FORM_STATUS_LABELS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}
YESNO_CHOICES = {"1": "Yes", "0": "No"}
TRUEFALSE_CHOICES = {"1": "True", "0": "False"}


def parse_choices(text: str) -> dict[str, str]:
    """Parse REDCap's ``1, Label | 2, Other`` choice syntax into code -> label (ordered)."""
    choices: dict[str, str] = {}
    if not text.strip():
        return choices
    for part in text.split("|"):
        code, sep, label = part.partition(",")
        if not sep:
            continue
        code = code.strip()
        if code:
            choices[code] = label.strip()
    return choices


def format_choices(choices: dict[str, str]) -> str:
    """Choices as REDCap writes them from a project XML's code list: ``0, Female|1, Male``.

    (A data dictionary's choices are exported as they were imported, spaces kept.)"""
    return "|".join(f"{code}, {label}" for code, label in choices.items())


def checkbox_column(field_name: str, code: str) -> str:
    """The export column of one checkbox option: codes lower-cased, other characters `_`."""
    return f"{field_name}___{re.sub(r'[^a-z0-9_]', '_', code.lower())}"


def strip_tags(text: str) -> str:
    """Labels may hold HTML; headers show the text only, as REDCap does."""
    return re.sub(r"<[^>]*>", "", text).strip()


@dataclass(frozen=True)
class Field:
    """One data dictionary row."""

    field_name: str
    form_name: str
    field_type: str
    field_label: str = ""
    section_header: str = ""
    select_choices_or_calculations: str = ""
    field_note: str = ""
    text_validation_type_or_show_slider_number: str = ""
    text_validation_min: str = ""
    text_validation_max: str = ""
    identifier: str = ""
    branching_logic: str = ""
    required_field: str = ""
    custom_alignment: str = ""
    question_number: str = ""
    matrix_group_name: str = ""
    matrix_ranking: str = ""
    field_annotation: str = ""

    @property
    def validation(self) -> str:
        return self.text_validation_type_or_show_slider_number

    @property
    def is_identifier(self) -> bool:
        return self.identifier.strip().lower() == "y"

    @cached_property
    def choices(self) -> dict[str, str]:
        """Code -> label for choice fields (yes/no and true/false have fixed choices)."""
        if self.field_type == "yesno":
            return YESNO_CHOICES
        if self.field_type == "truefalse":
            return TRUEFALSE_CHOICES
        if self.field_type in ("radio", "dropdown", "checkbox"):
            return parse_choices(self.select_choices_or_calculations)
        return {}

    @property
    def is_numeric(self) -> bool:
        """Number-valued: calc, slider, and number/integer-validated text."""
        return self.field_type in ("calc", "slider") or (
            self.field_type == "text" and self.validation in NUMBER_VALIDATIONS
        )

    @property
    def has_data(self) -> bool:
        """Descriptive fields hold no data and are never exported."""
        return self.field_type != "descriptive"

    def as_metadata(self) -> dict[str, str]:
        return {column: getattr(self, column) for column in METADATA_COLUMNS}


@dataclass(frozen=True)
class Form:
    form_name: str
    form_label: str
    survey_enabled: bool = False

    @property
    def complete_field(self) -> str:
        return f"{self.form_name}_complete"


@dataclass(frozen=True)
class Arm:
    arm_num: int
    name: str


@dataclass(frozen=True)
class Event:
    event_id: int
    arm_num: int
    event_name: str
    unique_event_name: str
    day_offset: str = "0"
    offset_min: str = "0"
    offset_max: str = "0"
    custom_event_label: str = ""


@dataclass(frozen=True)
class Dag:
    group_id: int
    group_name: str
    unique_name: str


#: Classic projects have no events; their rows use this event id.
CLASSIC_EVENT_ID = 0


@dataclass
class Project:
    """One project's design. Built by ``localcap.db.projects.load_project``."""

    project_id: int
    project_title: str
    #: Longitudinal in effect: the setting is on AND the project has events (REDCap reports a
    #: project with the setting on but every event deleted as classic, ``is_longitudinal`` 0).
    is_longitudinal: bool
    info: dict[str, str]
    fields: list[Field]
    forms: list[Form]
    arms: list[Arm] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: event_id -> forms designated for it, in form order.
    event_forms: dict[int, list[str]] = field(default_factory=dict)
    #: (event_id, form_name) repeating instruments; (event_id, "") repeating events.
    repeating: dict[tuple[int, str], str] = field(default_factory=dict)
    dags: list[Dag] = field(default_factory=list)
    #: The project's longitudinal setting as set (Create Project, Import Project Info).
    longitudinal_enabled: bool = False
    #: Bumped by every change of the design: a writer holding the project's write lock
    #: compares it to know whether the design it checked against is still the current one.
    design_version: int = 0

    # -- fields and forms -------------------------------------------------------------------
    @cached_property
    def field_by_name(self) -> dict[str, Field]:
        return {f.field_name: f for f in self.fields}

    @cached_property
    def form_by_name(self) -> dict[str, Form]:
        return {f.form_name: f for f in self.forms}

    @property
    def record_id_field(self) -> str:
        return self.fields[0].field_name if self.fields else "record_id"

    @cached_property
    def form_fields(self) -> dict[str, list[Field]]:
        """Form -> its data fields in order (descriptive fields left out)."""
        result: dict[str, list[Field]] = {f.form_name: [] for f in self.forms}
        for f in self.fields:
            if f.has_data:
                result.setdefault(f.form_name, []).append(f)
        return result

    @cached_property
    def complete_fields(self) -> dict[str, str]:
        """``<form>_complete`` -> form."""
        return {form.complete_field: form.form_name for form in self.forms}

    @cached_property
    def form_of_name(self) -> dict[str, str]:
        """Field or ``<form>_complete`` name -> its instrument (:meth:`form_of` as a dict,
        for ``map`` over the thousands of names of a bulk write)."""
        forms = {f.field_name: f.form_name for f in self.fields}
        forms.update(self.complete_fields)
        return forms

    @cached_property
    def data_fields_by_status(self) -> list[tuple[str, frozenset[str]]]:
        """Each instrument's ``<form>_complete`` status and the names of its data fields (the
        record ID left out: a row holding only the ID gets no status), in form order."""
        record_id = self.record_id_field
        names: dict[str, set[str]] = {}
        for f in self.fields:
            if f.has_data and f.field_name != record_id:
                names.setdefault(f"{f.form_name}_complete", set()).add(f.field_name)
        return [(status, frozenset(fields)) for status, fields in names.items()]

    @cached_property
    def option_rank(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(checkbox field, code) -> (field position, choice position): sorting checked
        options by it groups them by field, each field's codes in choice order."""
        return {
            (f.field_name, code): (i, j)
            for i, f in enumerate(self.fields)
            if f.field_type == "checkbox"
            for j, code in enumerate(f.choices)
        }

    @cached_property
    def choice_ranks(self) -> dict[str, dict[str, int]]:
        """Choice field -> its codes' positions (checked codes are stored in that order)."""
        return {
            f.field_name: {code: i for i, code in enumerate(f.choices)}
            for f in self.fields
            if f.choices
        }

    def form_of(self, name: str) -> str | None:
        """The instrument a field or a ``<form>_complete`` pseudo-field belongs to."""
        if name in self.field_by_name:
            return self.field_by_name[name].form_name
        return self.complete_fields.get(name)

    def iter_export_fields(self) -> Iterator[str]:
        """Every exportable field name in dictionary order, each form closed by its _complete."""
        for form in self.forms:
            for f in self.form_fields.get(form.form_name, []):
                yield f.field_name
            yield form.complete_field

    # -- events -----------------------------------------------------------------------------
    @cached_property
    def event_by_id(self) -> dict[int, Event]:
        return {e.event_id: e for e in self.events}

    @cached_property
    def event_by_name(self) -> dict[str, Event]:
        return {e.unique_event_name: e for e in self.events}

    @cached_property
    def event_order(self) -> dict[int, int]:
        return {e.event_id: i for i, e in enumerate(self.events)}

    @cached_property
    def arm_by_num(self) -> dict[int, Arm]:
        return {a.arm_num: a for a in self.arms}

    def event_ids(self) -> list[int]:
        """The events rows can live in: the project's events, or the one classic pseudo-event."""
        return [e.event_id for e in self.events] if self.is_longitudinal else [CLASSIC_EVENT_ID]

    def forms_in_event(self, event_id: int) -> list[str]:
        if not self.is_longitudinal:
            return [f.form_name for f in self.forms]
        return self.event_forms.get(event_id, [])

    def event_label(self, event: Event) -> str:
        """Label-mode event name: the event's name, with its arm when more than one arm has
        events (``Baseline (Arm 2: Placebo)``), so that same-named events stay apart.

        PyCap's doctests, recorded from a real REDCap project that had a second arm without
        events, show plain ``Event 1``; the arm suffix for several populated arms follows
        REDCap's data export page (inferred for the API)."""
        if len({e.arm_num for e in self.events}) <= 1:
            return event.event_name
        arm = self.arm_by_num.get(event.arm_num)
        arm_name = arm.name if arm else f"Arm {event.arm_num}"
        return f"{event.event_name} (Arm {event.arm_num}: {arm_name})"

    # -- repeating --------------------------------------------------------------------------
    @property
    def has_repeating(self) -> bool:
        return bool(self.repeating)

    def is_repeating_form(self, event_id: int, form_name: str) -> bool:
        return (event_id, form_name) in self.repeating

    def is_repeating_event(self, event_id: int) -> bool:
        return (event_id, "") in self.repeating

    # -- DAGs -------------------------------------------------------------------------------
    @cached_property
    def dag_by_id(self) -> dict[int, Dag]:
        return {d.group_id: d for d in self.dags}

    @cached_property
    def dag_by_name(self) -> dict[str, Dag]:
        return {d.unique_name: d for d in self.dags}
