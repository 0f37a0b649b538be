"""User roles in a REDCap project XML: ``<redcap:UserRoles .../>`` <-> :class:`Rights`.

Real exports (``tests/data/redcap_projects``) write one empty element per role inside
``<redcap:UserRolesGroup>``, every right an attribute in REDCap's database spelling:
``graphical`` is Stats & Charts, ``participants`` Manage Survey Participants,
``data_logging`` Logging, ``data_quality_design`` Data Quality create, ``lock_record*`` the
locking rights; ``data_entry="[form_1,2][form_2,1]"`` the instrument rights and
``data_export_instruments="[form_1,0]"`` the per-instrument export rights (REDCap 12+; then
``data_export_tool`` is empty, older files give one level in it for every instrument).
Rights localcap has no use for (``double_data``, randomization, MyCap ...) are kept as given
in :attr:`Rights.extra`, so an exported project XML carries them back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from localcap.model.numbers import small_int
from localcap.model.project import Project
from localcap.model.rights import NO_ACCESS, Rights, normalise_form_right

#: XML attribute -> localcap flag right.
XML_FLAGS = {
    "lock_record": "lock_records",
    "lock_record_multiform": "lock_records_all_forms",
    "lock_record_customize": "lock_records_customization",
    "data_import_tool": "data_import_tool",
    "data_comparison_tool": "data_comparison_tool",
    "data_logging": "logging",
    "email_logging": "email_logging",
    "file_repository": "file_repository",
    "user_rights": "user_rights",
    "data_access_groups": "data_access_groups",
    "graphical": "stats_and_charts",
    "reports": "reports",
    "design": "design",
    "alerts": "alerts",
    "calendar": "calendar",
    "api_export": "api_export",
    "api_import": "api_import",
    "api_modules": "api_modules",
    "mobile_app": "mobile_app",
    "mobile_app_download_data": "mobile_app_download_data",
    "record_create": "record_create",
    "record_rename": "record_rename",
    "record_delete": "record_delete",
    "participants": "manage_survey_participants",
    "data_quality_design": "data_quality_create",
    "data_quality_execute": "data_quality_execute",
}

#: REDCap's attribute order (a REDCap 15 export), with the defaults of the kept-only ones.
ATTRIBUTE_ORDER = (  # noqa: SIM905 - REDCap's order, as it reads in a real file
    "lock_record lock_record_multiform lock_record_customize data_export_tool "
    "data_export_instruments data_import_tool data_comparison_tool data_logging email_logging "
    "file_repository double_data user_rights data_access_groups graphical reports design "
    "alerts calendar data_entry api_export api_import api_modules mobile_app "
    "mobile_app_download_data record_create record_rename record_delete dts participants "
    "data_quality_design data_quality_execute data_quality_resolution random_setup "
    "random_dashboard random_perform realtime_webservice_mapping "
    "realtime_webservice_adjudicate mycap_participants mycap_configure_app "
    "external_module_config"
).split()
NAMES = ("role_name", "unique_role_name")
FORM_LISTS = ("data_entry", "data_export_instruments", "data_export_tool")

_PAIR = re.compile(r"\[([^,\]]+),\s*(\d+)\]")


def parse_form_list(text: str) -> list[tuple[str, int]]:
    """``[form_1,2][form_2,0]`` -> [("form_1", 2), ("form_2", 0)]."""
    return [(m.group(1).strip(), int(m.group(2))) for m in _PAIR.finditer(text or "")]


def rights_from_attrs(
    attrs: dict[str, str], project: Project, warn: Callable[[str], None]
) -> Rights:
    """A role's rights from its element's attributes (unknown instruments are warned of)."""
    label = attrs.get("role_name", "")
    rights = Rights(data_export=NO_ACCESS)
    for name, flag in XML_FLAGS.items():
        value = attrs.get(name, "").strip()
        rights.flags[flag] = small_int(value) or 0

    def levels(attr: str) -> list[tuple[str, int]]:
        known = []
        for form, level in parse_form_list(attrs.get(attr, "")):
            if form in project.form_by_name:
                known.append((form, level))
            else:
                warn(f"User role '{label}': {attr} names an unknown instrument '{form}'")
        return known

    legacy = attrs.get("data_export_tool", "").strip()
    if small_int(legacy) is not None:
        rights.data_export = int(legacy)
    rights.forms = {form: normalise_form_right(level) for form, level in levels("data_entry")}
    rights.forms_export = dict(levels("data_export_instruments"))
    for name, value in attrs.items():
        if name in XML_FLAGS or name in NAMES or name in FORM_LISTS:
            continue
        rights.extra[name] = value
        if value.strip() not in ("", "0"):
            warn(
                f"User role '{label}': the right {name}={value!r} is kept but has no effect "
                "in localcap"
            )
    return rights


def role_attrs(
    label: str, unique_name: str, rights: Rights, project: Project
) -> list[tuple[str, str]]:
    """The attributes of a role's ``<redcap:UserRoles/>`` element, in REDCap's order."""
    by_attr = {attr: flag for attr, flag in XML_FLAGS.items()}
    forms = [f.form_name for f in project.forms]
    values: dict[str, str] = {
        "data_export_tool": "",
        "data_export_instruments": "".join(f"[{f},{rights.export_level(f)}]" for f in forms),
        "data_entry": "".join(f"[{f},{rights.forms.get(f, 0)}]" for f in forms),
    }
    out = [("role_name", label), ("unique_role_name", unique_name)]
    for name in ATTRIBUTE_ORDER:
        if name in by_attr:
            value = str(rights.flags.get(by_attr[name], 0))
        elif name in values:
            value = values[name]
        else:
            value = rights.extra.get(name, "" if name == "external_module_config" else "0")
        out.append((name, value))
    out += [(k, v) for k, v in rights.extra.items() if k not in ATTRIBUTE_ORDER]
    return out
