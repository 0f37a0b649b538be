"""User roles (named sets of rights users are put in) and the DAG Switcher's grants.

A user in a role has the role's rights in place of their own (``projects.load_project_user``);
the user's own rights stay stored and apply again once the user leaves the role. The user's
DAG and expiration are always the user's own.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from localcap.db import schema as t
from localcap.model.rights import Rights

#: REDCap's unique role names: ``U-`` and 10 upper-case letters and digits (``U-573AEYRNR8``).
ROLE_NAME_ALPHABET = string.ascii_uppercase + string.digits
#: The DAG Switcher's group id for "[No Assignment]" (sees every record).
NO_ASSIGNMENT = 0


class Role(NamedTuple):
    role_id: int
    unique_role_name: str
    role_label: str
    rights: Rights


def new_role_name(taken: Collection[str]) -> str:
    """A fresh REDCap-style unique role name not in ``taken``."""
    while True:
        name = "U-" + "".join(secrets.choice(ROLE_NAME_ALPHABET) for _ in range(10))
        if name not in taken:
            return name


def list_roles(conn: Connection, project_id: int) -> list[Role]:
    """The project's roles in creation order (REDCap's export order)."""
    rows = conn.execute(
        select(t.user_roles)
        .where(t.user_roles.c.project_id == project_id)
        .order_by(t.user_roles.c.role_id)
    )
    return [
        Role(
            r.role_id,
            r.unique_role_name,
            r.role_label,
            Rights.from_json(orjson.loads(r.rights or "{}")),
        )
        for r in rows
    ]


def save_role(
    conn: Connection, project_id: int, unique_name: str, label: str, rights: Rights
) -> None:
    """Create the role, or update the one with this unique name."""
    values = {"role_label": label, "rights": orjson.dumps(rights.to_json()).decode()}
    updated = conn.execute(
        update(t.user_roles)
        .where(
            t.user_roles.c.project_id == project_id,
            t.user_roles.c.unique_role_name == unique_name,
        )
        .values(**values)
    )
    if updated.rowcount == 0:
        conn.execute(
            insert(t.user_roles).values(
                project_id=project_id, unique_role_name=unique_name, **values
            )
        )


def roles_in_use(conn: Connection, project_id: int, role_ids: Iterable[int]) -> dict[int, int]:
    """Role id -> how many users are in it (only roles with users)."""
    pu = t.project_users
    rows = conn.execute(
        select(pu.c.role_id, func.count())
        .where(pu.c.project_id == project_id, pu.c.role_id.in_(list(role_ids)))
        .group_by(pu.c.role_id)
    )
    return {int(r[0]): int(r[1]) for r in rows}


def roles_limiting_folders(conn: Connection, project_id: int, role_ids: Iterable[int]) -> set[int]:
    """Roles that File Repository folders are limited to."""
    f = t.repository_folders
    rows = conn.execute(
        select(f.c.role_id).where(f.c.project_id == project_id, f.c.role_id.in_(list(role_ids)))
    )
    return {int(r[0]) for r in rows}


def delete_roles(conn: Connection, project_id: int, role_ids: Sequence[int]) -> None:
    conn.execute(
        delete(t.user_roles).where(
            t.user_roles.c.project_id == project_id, t.user_roles.c.role_id.in_(role_ids)
        )
    )


def set_user_role(conn: Connection, project_id: int, username: str, role_id: int | None) -> None:
    conn.execute(
        update(t.project_users)
        .where(t.project_users.c.project_id == project_id, t.project_users.c.username == username)
        .values(role_id=role_id)
    )


def role_name(conn: Connection, role_id: int | None) -> str:
    """The unique name of a role ("" for none)."""
    if role_id is None:
        return ""
    name = conn.execute(
        select(t.user_roles.c.unique_role_name).where(t.user_roles.c.role_id == role_id)
    ).scalar()
    return str(name or "")


# -- the DAG Switcher -----------------------------------------------------------------------
def switch_dags(conn: Connection, project_id: int, username: str) -> set[int]:
    """The DAGs the user may switch into (0: "[No Assignment]"); empty when none were given."""
    ds = t.dag_switch
    rows = conn.execute(
        select(ds.c.group_id).where(ds.c.project_id == project_id, ds.c.username == username)
    )
    return {int(r[0]) for r in rows}


def set_switch_dags(
    conn: Connection, project_id: int, username: str, group_ids: Iterable[int]
) -> None:
    """Replace the DAGs the user may switch into."""
    ds = t.dag_switch
    conn.execute(delete(ds).where(ds.c.project_id == project_id, ds.c.username == username))
    rows = [
        {"project_id": project_id, "username": username, "group_id": g}
        for g in sorted(set(group_ids))
    ]
    if rows:
        conn.execute(insert(ds), rows)
