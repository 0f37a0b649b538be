"""The reports of a project XML (``<redcap:Reports .../>``) as report definitions.

A report that does not fit the imported project is not an error of the whole file: REDCap
would still create the project, so the report is left out and named in a warning.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from localcap.db.reports import save_reports
from localcap.model.project import Project
from localcap.projectxml.importer.warninglist import Warnings
from localcap.reports.definition import OrderBy, ReportDefinition, ReportDefinitionError


def save_xml_reports(
    conn: Connection,
    project: Project,
    reports: list[dict[str, str]],
    warnings: Warnings,
    role_names: set[str],
) -> None:
    """Store every report that is valid for ``project``; warn about the others."""
    definitions = []
    for attrs in reports:
        title = attrs.get("title", "") or attrs.get("unique_report_name", "report")
        try:
            definition = report_from_attrs(attrs, warnings, role_names)
            definition.validate(project)
        except ReportDefinitionError as exc:
            warnings.add(f"Report '{title}' was not imported: {exc}")
            continue
        definitions.append(definition)
    if definitions:
        save_reports(conn, project.project_id, definitions)


def _flag(attrs: dict[str, str], name: str, default: bool) -> bool:
    value = attrs.get(name)
    if value is None or value == "":
        return default
    return value.strip() == "1"


def _order_by(attrs: dict[str, str]) -> list[OrderBy]:
    orders = []
    for n in (1, 2, 3):
        f = attrs.get(f"orderby_field{n}", "").strip()
        if f:
            direction = (attrs.get(f"orderby_sort{n}", "") or "ASC").strip().upper()
            orders.append(OrderBy(f, direction if direction in ("ASC", "DESC") else "ASC"))
    return orders


def _user_access(
    attrs: dict[str, str], title: str, warnings: Warnings, role_names: set[str] | None
) -> Any:
    if attrs.get("user_access", "ALL").strip().upper() == "ALL":
        return "all"
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
    return access


def report_from_attrs(
    attrs: dict[str, str], warnings: Warnings, role_names: set[str] | None = None
) -> ReportDefinition:
    """A ``<redcap:Reports .../>`` element as a :class:`ReportDefinition` (no report id: the
    server assigns one, as REDCap does on import; the unique name is kept)."""
    title = attrs.get("title", "").strip()
    if not title:
        raise ReportDefinitionError("a report needs a title")
    orders = _order_by(attrs)
    access = _user_access(attrs, title, warnings, role_names)
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
