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
from datetime import date
from typing import Any

import orjson

from localcap.model.errors import DomainError
from localcap.model.names import invalid_values
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


# --- Rights as the user and role methods read and write them --------------------------------

#: REDCap's export order of the flag rights in Export Users (PyCap's doctest records it).
EXPORT_FLAGS: tuple[str, ...] = tuple(
    name
    for name in FLAG_RIGHTS
    if name not in ("lock_records_customization", "lock_records", "lock_records_all_forms")
) + ("lock_records_all_forms", "lock_records", "lock_records_customization")
#: The rights columns a JSON or XML import may give as an object, ``{"form": level}``.
FORM_RIGHTS_COLUMNS = frozenset({"forms", "forms_export"})
#: ``user_rights`` 2: REDCap's read-only User Rights (the XML of a role records it as "2").
READ_ONLY_USER_RIGHTS = 2


def may_change_users(rights: Rights) -> bool:
    """Changing users or roles needs full User Rights (1); read-only User Rights (2, in
    REDCap 14+) may look but not change."""
    return rights.flag("user_rights") and rights.flags.get("user_rights") != READ_ONLY_USER_RIGHTS


def form_levels(project: Project, rights: Rights) -> tuple[dict[str, int], dict[str, int]]:
    """Every instrument's data entry right and export level, in the project's form order."""
    forms = {f.form_name: rights.forms.get(f.form_name, 0) for f in project.forms}
    exports = {f.form_name: rights.export_level(f.form_name) for f in project.forms}
    return forms, exports


def _joined(levels: dict[str, int]) -> str:
    return ",".join(f"{form}:{level}" for form, level in levels.items())


def rights_columns(
    project: Project,
    rights: Rights,
    flags: tuple[str, ...],
    flag_type: type = int,
    *,
    as_objects: bool,
) -> dict[str, Any]:
    """The rights part of an Export Users / Export User Roles row: the flags as
    ``flag_type`` (REDCap sends users' as JSON numbers, roles' as strings: PyCap's doctests
    record both), then ``forms`` and ``forms_export``: objects (``as_objects``, JSON), or
    ``form:level`` lists joined with commas (CSV and XML)."""
    forms, exports = form_levels(project, rights)
    row: dict[str, Any] = {name: flag_type(rights.flags.get(name, 0)) for name in flags}
    if as_objects:
        row.update(forms=forms, forms_export=exports)
    else:
        row.update(forms=_joined(forms), forms_export=_joined(exports))
    return row


def rights_audit_pairs(project: Project, rights: Rights | None) -> list[tuple[str, Any]]:
    """How REDCap's log shows rights that were set: ``design = '1', ...,
    forms = 'demographics:1,...'`` (the rights as stored; none: nothing)."""
    if rights is None:
        return []
    forms, exports = form_levels(project, rights)
    pairs: list[tuple[str, Any]] = [(name, rights.flags.get(name, 0)) for name in EXPORT_FLAGS]
    return pairs + [("forms", _joined(forms)), ("forms_export", _joined(exports))]


def _parse_levels(value: Any, project: Project, column: str) -> dict[str, int]:
    """``{"form": 1}`` (JSON) or ``form:1,form2:0`` (CSV/XML) -> form -> level."""
    if isinstance(value, dict):
        items = list(value.items())
    else:
        text = str(value or "").strip()
        if text.startswith("{"):
            try:
                items = list(orjson.loads(text).items())
            except (orjson.JSONDecodeError, AttributeError):
                raise DomainError(f"The value of '{column}' is not valid") from None
        else:
            items = [part.split(":", 1) for part in text.split(",") if part.strip()]
    levels: dict[str, int] = {}
    for item in items:
        if len(item) != 2:
            raise DomainError(f"The value of '{column}' is not valid: use form_name:level")
        form, level = str(item[0]).strip(), str(item[1]).strip()
        if form not in project.form_by_name:
            raise invalid_values(column, [form])
        try:
            levels[form] = int(level)
        except ValueError:
            raise DomainError(
                f"The level '{level}' for '{form}' in '{column}' is not valid"
            ) from None
    return levels


def _flag(value: Any, name: str) -> int:
    text = str(value).strip()
    if text not in ("0", "1", "2"):
        raise DomainError(f"The value '{text}' of the right '{name}' is not valid (use 0 or 1)")
    return int(text)


def rights_from_row(
    row: dict[str, Any], project: Project, base: Rights | None, whole_lists: bool = False
) -> Rights:
    """The rights a user/role row gives, starting from ``base``.

    ``whole_lists`` (Import Users): ``forms`` and ``forms_export``, when the row has them,
    are the whole list: an instrument left out (or every instrument, for a blank value) gets
    0, no access, as on REDCap (redcapAPI's suite records it; its docs say REDCap sets
    missing instruments to "No Access"). Otherwise (roles, where nothing is recorded) the
    instruments listed change and the others keep their level."""
    rights = Rights.from_json(base.to_json()) if base else Rights()
    for name in FLAG_RIGHTS:
        if name in row and str(row[name]).strip() != "":
            rights.flags[name] = _flag(row[name], name)
    if str(row.get("data_export", "")).strip() != "":
        level = int(_flag_level(row["data_export"]))
        rights.data_export = level
        rights.forms_export = {f.form_name: level for f in project.forms}
    if "forms" in row and (whole_lists or str(row["forms"]).strip() != ""):
        given = _parse_levels(row["forms"], project, "forms")
        if whole_lists:
            rights.forms = {f.form_name: 0 for f in project.forms}
        for form, level in given.items():
            rights.forms[form] = normalise_form_right(level)
    if "forms_export" in row and (whole_lists or str(row["forms_export"]).strip() != ""):
        given = _parse_levels(row["forms_export"], project, "forms_export")
        if whole_lists:
            rights.forms_export = {f.form_name: 0 for f in project.forms}
        for form, level in given.items():
            if level not in (0, 1, 2, 3):
                raise DomainError(f"The export level '{level}' for '{form}' is not valid (0-3)")
            rights.forms_export[form] = level
    return rights


def _flag_level(value: Any) -> int:
    text = str(value).strip()
    if text not in ("0", "1", "2", "3"):
        raise DomainError(f"The value '{text}' of 'data_export' is not valid (use 0-3)")
    return int(text)


def _effective(project: Project, rights: Rights) -> tuple[Any, ...]:
    """What the rights allow in this project (absent entries and explicit zeros alike)."""
    return (
        tuple(rights.flag(name) for name in FLAG_RIGHTS),
        form_levels(project, rights),
    )


def check_role_rights(user: dict[str, Any], row: dict[str, Any], project: Project) -> None:
    """A user in a role has the role's rights: an import that would give the user other
    rights is refused (an invalid input) rather than silently ignored.

    What REDCap does here is undocumented (redcapAPI takes users out of their roles before
    importing their rights, and puts them back afterwards). localcap accepts a row whose
    rights equal the role's (an exported user imported back), and changes to the profile,
    expiration and DAG; any other rights need Import User Roles, or the user out of the
    role first (Import User-Role Assignments).
    """
    in_force: Rights = user["rights"]
    if _effective(project, rights_from_row(row, project, in_force, True)) != _effective(
        project, in_force
    ):
        raise DomainError(
            f"The user '{user['username']}' is in the user role '{user['unique_role_name']}' "
            "and has that role's rights: change the role (content=userRole) or take the user "
            "out of the role (content=userRoleMapping) before giving the user other rights",
        )


def expiration_of(row: dict[str, Any], username: str, current: str) -> str:
    """The row's expiration date (YYYY-MM-DD, REDCap's format; empty: never), checked here
    because the API refuses an expired user's token: a value that is not a date would lock
    the user out (or, on PostgreSQL, overflow the column) rather than be refused."""
    value = str(row.get("expiration", current) or "").strip()
    if value:
        try:
            value = date.fromisoformat(value).isoformat() if len(value) == 10 else ""
        except ValueError:
            value = ""
        if not value:
            raise DomainError(
                f"The expiration date of the user '{username}' must be in YYYY-MM-DD format"
            )
    return value
