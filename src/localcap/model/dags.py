"""Data Access Group rules that hold wherever a group is made (API, project XML, demo)."""

from __future__ import annotations

import re
from typing import NamedTuple

from localcap.model.errors import DomainError
from localcap.model.project import Project


def unique_group_name(display_name: str, taken: set[str]) -> str:
    """REDCap derives it from the display name: lower case, spaces to ``_``, other
    non-alphanumerics dropped (``New DAG`` -> ``new_dag``, ``dag-a`` -> ``daga``)."""
    base = re.sub(r"[^a-z0-9_]", "", re.sub(r"\s+", "_", display_name.strip().lower()))[:18]
    base = base or "dag"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[:16]}{n}"
    return name


class PlannedDag(NamedTuple):
    """One row of Import DAGs: its display name, the unique name it names now ("" for a new
    DAG) and the unique name the DAG gets."""

    display: str
    unique: str
    new_unique: str


def plan_dags(project: Project, rows: list[dict[str, str]]) -> list[PlannedDag]:
    """What Import DAGs does with each row, planned against ``project`` (the design as of the
    write lock): a blank unique name creates a DAG; a known one renames it, and a renamed
    DAG gets a unique name derived from its new display name (redcapAPI's suite: "A
    different name" becomes ``a_different_name``)."""
    taken = set(project.dag_by_name)
    planned: list[PlannedDag] = []
    for row in rows:
        display = str(row.get("data_access_group_name", "")).strip()
        unique = str(row.get("unique_group_name", "") or "").strip()
        if not display:
            raise DomainError("The data_access_group_name is missing")
        if unique and unique not in project.dag_by_name:
            raise DomainError(
                f"The unique_group_name '{unique}' does not exist: leave it blank to create a DAG"
            )
        if not unique:
            new_unique = unique_group_name(display, taken)
            unique = new_unique
        elif project.dag_by_name[unique].group_name != display:
            taken.discard(unique)
            new_unique = unique_group_name(display, taken)
        else:
            new_unique = unique
        taken.add(new_unique)
        planned.append(PlannedDag(display, unique, new_unique))
    return planned


def plan_user_dags(
    project: Project, members: set[str], rows: list[dict[str, str]]
) -> list[tuple[str, int | None]]:
    """Import User-DAG Assignments: (username, group id or None) per row, every user a
    member of the project and every DAG one of its DAGs (blank: no DAG)."""
    planned: list[tuple[str, int | None]] = []
    for row in rows:
        username = str(row.get("username", "")).strip()
        dag = str(row.get("redcap_data_access_group", "") or "").strip()
        if username not in members:
            raise DomainError(f"The user '{username}' is not a user of this project")
        planned.append((username, group_id_of(project, dag)))
    return planned


def group_id_of(project: Project, unique_name: str) -> int | None:
    """The group a unique DAG name names (blank: None, no DAG); an unknown name is refused."""
    if not unique_name:
        return None
    if unique_name not in project.dag_by_name:
        raise DomainError(f"The data access group '{unique_name}' does not exist")
    return project.dag_by_name[unique_name].group_id
