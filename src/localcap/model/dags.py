"""Data Access Group rules that hold wherever a group is made (API, project XML, demo)."""

from __future__ import annotations

import re


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
