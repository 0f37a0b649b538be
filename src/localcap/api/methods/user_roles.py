"""User roles: Export/Import/Delete User Roles and Export/Import User-Role Assignments.

A role is a named set of rights; a user put in a role has the role's rights in place of
their own (every export, report and file check reads the rights in force). Like REDCap's
API, these methods need the User Rights privilege besides API Export / API Import.

Decisions where REDCap's behaviour is not documented:

* Deleting a role that still has users is refused (400, naming the roles): the users would
  otherwise fall back silently to whatever rights they had before the role, possibly more.
  redcapAPI's own tests take users out of a role before deleting it. Unknown roles: 400.
* A role that File Repository folders are limited to cannot be deleted either (the folders
  would become visible to everyone).
* A caller in a Data Access Group (with User Rights) may create roles, but may change or
  delete only roles whose users are all in the caller's DAG (403 otherwise): a role's rights
  are its users' rights, so changing a role someone outside the DAG is in would change that
  user's rights, which Import Users already refuses. Export User-Role Assignments lists
  only the caller's DAG's users, as Export Users does (see docs/RIGHTS.md).
* Import User-Role Assignments: a blank ``unique_role_name`` takes the user out of the role
  (REDCap's documented behaviour); a non-blank ``data_access_group`` also assigns the DAG,
  a blank one leaves the user's DAG as it is (a blank never widens what the user sees).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import NO_USER_RIGHTS, ROLE_OUTSIDE_OWN_DAG, ApiError
from localcap.api.methods.common import (
    audit_change,
    count_response,
    import_rows,
    list_response,
    own_dag_users,
    require_own_dag,
)
from localcap.db import projects as store
from localcap.db import roles as role_store
from localcap.model.dags import group_id_of
from localcap.model.names import required_names
from localcap.model.rights import (
    FLAG_RIGHTS,
    FORM_RIGHTS_COLUMNS,
    new_role_rights,
    rights_audit_pairs,
    rights_columns,
    rights_from_row,
)

ROLE_COLUMNS = ("unique_role_name", "role_label", *FLAG_RIGHTS, "forms", "forms_export")
MAPPING_COLUMNS = ("username", "unique_role_name", "data_access_group")


def require_user_rights_export(ctx: ApiContext) -> None:
    ctx.require_export()
    ctx.require("user_rights", NO_USER_RIGHTS)


def _text(row: dict[str, Any], key: str) -> str:
    return str(row.get(key, "") or "").strip()


def require_roles_in_own_dag(
    ctx: ApiContext, members: list[dict[str, Any]], roles: dict[int, str]
) -> None:
    """A caller in a DAG changes only roles (``role_id -> unique name``) that no user outside
    that DAG is in (403 naming the first such role, in the request's order)."""
    if ctx.group_id is None:
        return
    outside = {u["role_id"] for u in members if u["group_id"] != ctx.group_id}
    for role_id, name in roles.items():
        if role_id in outside:
            raise ApiError(403, ROLE_OUTSIDE_OWN_DAG.format(role=name))


def export_user_roles(ctx: ApiContext) -> Response:
    require_user_rights_export(ctx)
    with ctx.read_snapshot() as conn:
        roles = role_store.list_roles(conn, ctx.project.project_id)
    rows = [
        {
            "unique_role_name": role.unique_role_name,
            "role_label": role.role_label,
            **rights_columns(
                ctx.project, role.rights, FLAG_RIGHTS, str, as_objects=ctx.format == "json"
            ),
        }
        for role in roles
    ]
    return list_response(ctx, rows, ROLE_COLUMNS)


def import_user_roles(ctx: ApiContext) -> Response:
    """Create a role for each row without a ``unique_role_name`` (REDCap names it
    ``U-`` + 10 characters), update the named one otherwise; answers the row count."""
    ctx.require_user_rights()
    rows = import_rows(ctx, nested=FORM_RIGHTS_COLUMNS)
    with ctx.write_transaction() as conn:
        project = ctx.project  # the design as of the lock: a role's rights name its forms
        existing = {r.unique_role_name: r for r in role_store.list_roles(conn, project.project_id)}
        named = {_text(row, "unique_role_name") for row in rows}
        require_roles_in_own_dag(
            ctx,
            store.list_project_users(conn, project.project_id),
            {r.role_id: n for n, r in existing.items() if n in named},
        )
        taken = set(existing)
        for row in rows:
            unique = _text(row, "unique_role_name")
            label = _text(row, "role_label")
            if unique:
                role = existing.get(unique)
                if role is None:
                    raise ApiError(
                        400,
                        f"The unique_role_name '{unique}' does not exist in this project: leave "
                        "it blank to create a role",
                    )
                base, label = role.rights, label or role.role_label
            else:
                if not label:
                    raise ApiError(400, "The role_label is missing: a new role needs a label")
                unique = role_store.new_role_name(taken)
                taken.add(unique)
                base = new_role_rights(project)
            rights = rights_from_row(row, project, base)
            role_store.save_role(conn, project.project_id, unique, label, rights)
            audit_change(
                ctx,
                "Edit user role" if unique in existing else "Add user role",
                [("role", label), ("unique_role_name", unique)]
                + rights_audit_pairs(project, rights),
            )
    return count_response(ctx, len(rows))


def delete_user_roles(ctx: ApiContext) -> Response:
    ctx.require_user_rights()
    pid = ctx.project.project_id
    with ctx.write_transaction() as conn:
        roles = {r.unique_role_name: r for r in role_store.list_roles(conn, pid)}
        names = list(dict.fromkeys(required_names("roles", ctx.request.list("roles"), roles)))
        ids = [roles[n].role_id for n in names]
        by_id = {roles[n].role_id: n for n in names}
        require_roles_in_own_dag(ctx, store.list_project_users(conn, pid), by_id)
        in_use = role_store.roles_in_use(conn, pid, ids)
        if in_use:
            listed = ", ".join(f"{by_id[i]} ({n} user{'s' * (n != 1)})" for i, n in in_use.items())
            raise ApiError(
                400,
                "These user roles still have users and cannot be deleted: "
                f"{listed}. Take the users out of the roles first (content=userRoleMapping)",
            )
        folders = role_store.roles_limiting_folders(conn, pid, ids)
        if folders:
            raise ApiError(
                400,
                "These user roles limit File Repository folders and cannot be deleted: "
                + ", ".join(by_id[i] for i in sorted(folders)),
            )
        role_store.delete_roles(conn, pid, ids)
    for name in names:
        audit_change(
            ctx,
            "Delete user role",
            [("role", roles[name].role_label), ("unique_role_name", name)],
        )
    return count_response(ctx, len(names))


def export_user_role_mapping(ctx: ApiContext) -> Response:
    require_user_rights_export(ctx)
    project = ctx.project
    with ctx.read_snapshot() as conn:
        users = own_dag_users(ctx, store.list_project_users(conn, project.project_id))
    rows = [
        {
            "username": u["username"],
            "unique_role_name": u["unique_role_name"],
            "data_access_group": project.dag_by_id[u["group_id"]].unique_name
            if u["group_id"] in project.dag_by_id
            else "",
        }
        for u in users
    ]
    return list_response(ctx, rows, MAPPING_COLUMNS)


def import_user_role_mapping(ctx: ApiContext) -> Response:
    ctx.require_user_rights()
    rows = import_rows(ctx)
    with ctx.write_transaction() as conn:
        project = ctx.project  # DAGs as of the lock (ctx.write_transaction re-reads the design)
        pid = project.project_id
        members = {u["username"]: u["group_id"] for u in store.list_project_users(conn, pid)}
        roles = {r.unique_role_name: r.role_id for r in role_store.list_roles(conn, pid)}
        planned: list[tuple[str, int | None, int | None]] = []
        for row in rows:
            username = _text(row, "username")
            role = _text(row, "unique_role_name")
            dag = _text(row, "data_access_group")
            if username not in members:
                raise ApiError(400, f"The user '{username}' is not a user of this project")
            if role and role not in roles:
                raise ApiError(400, f"The user role '{role}' does not exist in this project")
            group_id = group_id_of(project, dag)
            require_own_dag(ctx, username, members[username])
            if group_id is not None:
                require_own_dag(ctx, username, group_id)
            planned.append((username, roles[role] if role else None, group_id))
        names_of = {role_id: name for name, role_id in roles.items()}
        for username, role_id, group_id in planned:
            role_store.set_user_role(conn, pid, username, role_id)
            if group_id is not None:
                store.set_user_dag(conn, pid, username, group_id)
            audit_change(
                ctx,
                f"Assign user {username} to user role",
                [("user", username), ("unique_role_name", names_of.get(role_id, ""))],
            )
    return count_response(ctx, len(planned))
