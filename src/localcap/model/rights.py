"""Users' rights in a project, and the export-rights rules (REDCap 12+ per-instrument semantics).

Export levels per instrument (``forms_export``): 0 No Access, 1 Full Data Set, 2 De-Identified,
3 Remove All Identifier Fields. The project-level ``data_export`` of older REDCaps is kept and
applies to every instrument that has no level of its own.

What each level removes from an export (silently; the record-ID field is never removed):

* Remove All Identifier Fields: fields tagged ``identifier = y`` (and
  ``redcap_survey_identifier``).
* De-Identified: the above, plus every unvalidated text field, every notes field, and every
  date/datetime/time-validated field and survey timestamp. REDCap's web export date-shifts
  dates for De-Identified users; the API's behaviour is undocumented, so localcap removes them:
  the choice that can never leak a real date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localcap.model.project import Field, Project

NO_ACCESS, FULL, DEIDENTIFIED, REMOVE_IDENTIFIERS = 0, 1, 2, 3

#: The simple 0/1 rights of REDCap's Export Users, in its column order.
FLAG_RIGHTS: tuple[str, ...] = (
    "design",
    "alerts",
    "user_rights",
    "data_access_groups",
    "reports",
    "stats_and_charts",
    "manage_survey_participants",
    "calendar",
    "data_import_tool",
    "data_comparison_tool",
    "logging",
    "email_logging",
    "file_repository",
    "data_quality_create",
    "data_quality_execute",
    "api_export",
    "api_import",
    "api_modules",
    "mobile_app",
    "mobile_app_download_data",
    "record_create",
    "record_rename",
    "record_delete",
    "lock_records_customization",
    "lock_records",
    "lock_records_all_forms",
)

#: Rights REDCap does not give a project's creator.
CREATOR_OFF = frozenset({"email_logging", "mobile_app_download_data", "lock_records_customization"})

DATE_VALIDATION_PREFIXES = ("date_", "datetime_", "time")


def normalise_form_right(value: int) -> int:
    """REDCap 15.6+ writes form rights as bit flags (128 no access, 129 read-only, 130 edit,
    +8 edit survey responses, +16 delete); older ones as 0/1/2/3. Store the legacy code."""
    if value < 128:
        return value
    base = value & 0b11
    if base == 0:
        return 0
    if value & 8:
        return 3
    return 2 if base == 1 else 1


@dataclass
class Rights:
    """A user's rights in one project."""

    flags: dict[str, int] = field(default_factory=dict)
    data_export: int = NO_ACCESS
    #: Form -> 0 no access, 1 view & edit, 2 read only, 3 edit survey responses.
    forms: dict[str, int] = field(default_factory=dict)
    #: Form -> export level; forms not listed use ``data_export``.
    forms_export: dict[str, int] = field(default_factory=dict)
    #: Rights REDCap has and localcap does not use (a project XML's ``double_data``,
    #: ``random_setup`` ...): kept as given so an exported project XML gives them back.
    extra: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name, 0))

    def export_level(self, form_name: str) -> int:
        return self.forms_export.get(form_name, self.data_export)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "flags": self.flags,
            "data_export": self.data_export,
            "forms": self.forms,
            "forms_export": self.forms_export,
        }
        if self.extra:
            data["extra"] = self.extra
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rights:
        return cls(
            flags=dict(data.get("flags", {})),
            data_export=int(data.get("data_export", NO_ACCESS)),
            forms={k: int(v) for k, v in data.get("forms", {}).items()},
            forms_export={k: int(v) for k, v in data.get("forms_export", {}).items()},
            extra={k: str(v) for k, v in data.get("extra", {}).items()},
        )

    @classmethod
    def full(cls, project: Project | None = None) -> Rights:
        """What a project's creator gets: everything but the three rights REDCap leaves off
        for a new project's creator (PyCap's doctest records them as 0)."""
        forms = [f.form_name for f in project.forms] if project else []
        return cls(
            flags={name: int(name not in CREATOR_OFF) for name in FLAG_RIGHTS},
            data_export=FULL,
            forms={f: 1 for f in forms},
            forms_export={f: FULL for f in forms},
        )


def new_role_rights(project: Project) -> Rights:
    """What REDCap gives a new role for every right the import leaves out.

    Evidence: PyCap's integration project (``tests/data/test_simple_project.xml``, exported
    from real REDCap) holds an untouched "Example Role": Stats & Charts, Reports, Calendar,
    File Repository, Survey Participants and Create Records on; every instrument View & Edit;
    De-Identified export; everything else (API access, User Rights, Design ...) off.
    """
    on = (
        "stats_and_charts",
        "reports",
        "calendar",
        "file_repository",
        "manage_survey_participants",
        "record_create",
    )
    forms = [f.form_name for f in project.forms]
    return Rights(
        flags={name: int(name in on) for name in FLAG_RIGHTS},
        data_export=DEIDENTIFIED,
        forms={f: 1 for f in forms},
        forms_export={f: DEIDENTIFIED for f in forms},
    )


def is_date_field(f: Field) -> bool:
    return f.field_type == "text" and f.validation.startswith(DATE_VALIDATION_PREFIXES)


def removed_by_level(f: Field, level: int) -> bool:
    """Whether an export level removes this field's values (see the module docstring)."""
    if level in (FULL,):
        return False
    if level == NO_ACCESS:
        return True
    if f.is_identifier:
        return True
    if level == DEIDENTIFIED:
        if f.field_type == "notes":
            return True
        if f.field_type == "text" and (not f.validation or is_date_field(f)):
            return True
    return False


def allowed_export_fields(project: Project, rights: Rights) -> set[str]:
    """Every field and ``<form>_complete`` the user may see in an export, record ID included."""
    allowed = {project.record_id_field}
    for form in project.forms:
        level = rights.export_level(form.form_name)
        if level == NO_ACCESS:
            continue
        allowed.add(form.complete_field)
        for f in project.form_fields.get(form.form_name, []):
            if not removed_by_level(f, level):
                allowed.add(f.field_name)
    return allowed


def survey_fields_allowed(rights: Rights, form_name: str) -> bool:
    """Survey identifier/timestamps: removed under De-Identified and Remove-Identifiers."""
    return rights.export_level(form_name) == FULL


def has_any_export_access(project: Project, rights: Rights) -> bool:
    return any(rights.export_level(f.form_name) != NO_ACCESS for f in project.forms) or (
        not project.forms and rights.data_export != NO_ACCESS
    )
