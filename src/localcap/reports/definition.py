"""A report definition, and validating one against its project before it is stored.

The JSON shape (``content=report&action=import`` and ``localcap report import``)::

    {"report_id": 12,                       # optional: assigned when missing, kept when given
     "title": "Adverse events",
     "fields": ["record_id", "ae_term"],    # ordered; the record ID is always output first
     "filter_logic": "[ae_grade] >= 2",     # REDCap logic, optional
     "filter_type": "EVENT",                # EVENT: per row; RECORD: all rows of a matching record
     "filter_events": ["baseline_arm_1"],   # unique event names, optional
     "filter_dags": ["site_a"],             # unique DAG names, optional
     "order_by": [{"field": "ae_grade", "direction": "DESC"}],   # up to 3
     "output_dags": false, "output_survey_fields": false,
     "combine_checkbox_values": false, "remove_line_breaks": true,
     "user_access": "all"                   # or {"users": [...], "roles": [...], "dags": [...]}
    }

``user_access`` roles are unique role names (``U-573AEYRNR8``): a user in one of them sees
the report (the role, not the user's own rights, decides, as everywhere else).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from localcap.model.errors import DomainError
from localcap.model.filtering import FilterError, compile_filter
from localcap.model.project import Project


class ReportDefinitionError(DomainError):
    """The definition names something the project does not have, or is malformed."""


@dataclass
class OrderBy:
    field: str
    direction: str = "ASC"


@dataclass
class ReportDefinition:
    title: str
    fields: list[str]
    report_id: int | None = None
    unique_report_name: str = ""
    description: str = ""
    filter_logic: str = ""
    filter_type: str = "EVENT"
    filter_events: list[str] = field(default_factory=list)
    filter_dags: list[str] = field(default_factory=list)
    order_by: list[OrderBy] = field(default_factory=list)
    output_dags: bool = False
    output_survey_fields: bool = False
    combine_checkbox_values: bool = False
    remove_line_breaks: bool = True
    include_repeating: bool = True
    #: "all", or {"users": [...], "roles": [...], "dags": [...]}
    user_access: Any = "all"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ReportDefinition:
        """Read one definition of the JSON shape above; the checks run in a fixed order so
        that a definition with several faults always gets the same message."""
        if not isinstance(data, dict):
            raise ReportDefinitionError("Each report definition must be a JSON object")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ReportDefinitionError(f"Unknown report attributes: {', '.join(unknown)}")
        title = str(data.get("title", "")).strip()
        if not title:
            raise ReportDefinitionError("A report needs a title")
        fields = data.get("fields")
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise ReportDefinitionError(f"Report '{title}': 'fields' must be a list of field names")
        orders = _order_by(data.get("order_by") or [], title)
        report_id = _report_id(data.get("report_id"), title)
        filter_type = str(data.get("filter_type", "EVENT")).upper()
        if filter_type not in ("EVENT", "RECORD"):
            raise ReportDefinitionError(f"Report '{title}': filter_type must be EVENT or RECORD")
        access = _user_access(data.get("user_access", "all"), title)
        return cls(
            title=title,
            fields=list(fields),
            report_id=report_id,
            unique_report_name=str(data.get("unique_report_name", "") or ""),
            description=str(data.get("description", "") or ""),
            filter_logic=str(data.get("filter_logic", "") or ""),
            filter_type=filter_type,
            filter_events=_as_list(data, "filter_events", title),
            filter_dags=_as_list(data, "filter_dags", title),
            order_by=orders,
            output_dags=_as_bool(data, "output_dags", False),
            output_survey_fields=_as_bool(data, "output_survey_fields", False),
            combine_checkbox_values=_as_bool(data, "combine_checkbox_values", False),
            remove_line_breaks=_as_bool(data, "remove_line_breaks", True),
            include_repeating=_as_bool(data, "include_repeating", True),
            user_access=access,
        )

    def validate(self, project: Project) -> None:
        """Everything named must exist; filter logic must compile; at most 3 sort fields."""
        title = self.title
        known = set(project.field_by_name) | set(project.complete_fields)
        unknown = [f for f in self.fields if f not in known]
        if unknown:
            raise ReportDefinitionError(f"Report '{title}': unknown fields: {', '.join(unknown)}")
        descriptive = [
            f
            for f in self.fields
            if f in project.field_by_name and project.field_by_name[f].field_type == "descriptive"
        ]
        if descriptive:
            raise ReportDefinitionError(
                f"Report '{title}': descriptive fields hold no data: {', '.join(descriptive)}"
            )
        if self.filter_events and not project.is_longitudinal:
            raise ReportDefinitionError(
                f"Report '{title}': filter_events needs a longitudinal project"
            )
        bad_events = [e for e in self.filter_events if e not in project.event_by_name]
        if bad_events:
            raise ReportDefinitionError(
                f"Report '{title}': unknown events: {', '.join(bad_events)}"
            )
        bad_dags = [d for d in self.filter_dags if d not in project.dag_by_name]
        if bad_dags:
            raise ReportDefinitionError(f"Report '{title}': unknown DAGs: {', '.join(bad_dags)}")
        if len(self.order_by) > 3:
            raise ReportDefinitionError(
                f"Report '{title}': at most 3 order_by fields are allowed, not {len(self.order_by)}"
            )
        for order in self.order_by:
            if order.field not in known:
                raise ReportDefinitionError(
                    f"Report '{title}': unknown order_by field {order.field}"
                )
            f = project.field_by_name.get(order.field)
            if f is not None and f.field_type == "checkbox":
                raise ReportDefinitionError(
                    f"Report '{title}': checkbox fields cannot be sort fields ({order.field})"
                )
        if self.filter_logic.strip():
            try:
                compile_filter(project, self.filter_logic)
            except FilterError as exc:
                raise ReportDefinitionError(f"Report '{title}': filter_logic: {exc}") from None
        if isinstance(self.user_access, dict):
            bad = [d for d in self.user_access.get("dags", []) if d not in project.dag_by_name]
            if bad:
                raise ReportDefinitionError(
                    f"Report '{title}': user_access names unknown DAGs: {', '.join(bad)}"
                )

    def visible_to(self, username: str, user_dag: str, roles: tuple[str, ...] = ()) -> bool:
        """Whether a user (with their DAG's unique name and their role's unique name, if
        any) may see the report: one of the selected users, roles or DAGs."""
        if self.user_access == "all":
            return True
        access = self.user_access
        return (
            username in access.get("users", [])
            or bool(user_dag and user_dag in access.get("dags", []))
            or any(role in access.get("roles", []) for role in roles)
        )


# --------------------------------------------------------------- reading the JSON attributes


def _order_by(order_by: Any, title: str) -> list[OrderBy]:
    """``order_by`` entries: a field name alone (ascending) or ``{"field", "direction"}``."""
    if not isinstance(order_by, list):
        raise ReportDefinitionError(f"Report '{title}': 'order_by' must be a list")
    orders = []
    for item in order_by:
        if isinstance(item, str):
            item = {"field": item}
        if not isinstance(item, dict) or "field" not in item:
            raise ReportDefinitionError(
                f"Report '{title}': each order_by entry needs a 'field' and a 'direction'"
            )
        direction = str(item.get("direction", "ASC")).upper()
        if direction not in ("ASC", "DESC"):
            raise ReportDefinitionError(
                f"Report '{title}': order_by direction must be ASC or DESC, not {direction}"
            )
        orders.append(OrderBy(str(item["field"]), direction))
    return orders


def _report_id(report_id: Any, title: str) -> int | None:
    """A given ID (a positive number, or its digits as text) is kept; none is assigned later."""
    if report_id in (None, ""):
        return None
    try:
        number = int(report_id)
    except (TypeError, ValueError):
        raise ReportDefinitionError(f"Report '{title}': report_id must be a number") from None
    if number < 1:
        raise ReportDefinitionError(f"Report '{title}': report_id must be positive")
    return number


def _user_access(access: Any, title: str) -> Any:
    """``"all"`` (any letter case), or a dict of ``users``/``roles``/``dags`` lists."""
    if isinstance(access, str):
        if access.lower() != "all":
            raise ReportDefinitionError(
                f"Report '{title}': user_access must be \"all\" or {{users, roles, dags}}"
            )
        return "all"
    if isinstance(access, dict):
        if set(access) - {"users", "roles", "dags"}:
            raise ReportDefinitionError(
                f"Report '{title}': user_access may only list users, roles and dags"
            )
        return {k: [str(v) for v in access.get(k) or []] for k in ("users", "roles", "dags")}
    raise ReportDefinitionError(f"Report '{title}': user_access is not valid")


def _as_list(data: dict[str, Any], name: str, title: str) -> list[str]:
    """A list attribute, also accepted as one comma-separated string."""
    value = data.get(name) or []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ReportDefinitionError(f"Report '{title}': '{name}' must be a list")
    return [str(v) for v in value]


def _as_bool(data: dict[str, Any], name: str, default: bool) -> bool:
    """A flag: JSON true/false or numbers, or text such as ``"1"``, ``"true"``, ``"yes"``."""
    value = data.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)
