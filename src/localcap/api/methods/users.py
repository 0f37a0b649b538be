"""Export/Import/Delete Users with their rights (REDCap 12+ per-instrument export rights)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import (
    audit_change,
    count_response,
    import_rows,
    list_response,
    own_dag_users,
    require_own_dag,
)
from localcap.db import projects as store
from localcap.model.dags import group_id_of
from localcap.model.names import required_names
from localcap.model.rights import (
    EXPORT_FLAGS,
    FORM_RIGHTS_COLUMNS,
    NO_ACCESS,
    Rights,
    check_role_rights,
    expiration_of,
    rights_audit_pairs,
    rights_columns,
    rights_from_row,
)

#: The width of the ``users.username`` column.
MAX_USERNAME = 255
PROFILE = ("username", "email", "firstname", "lastname", "expiration")
DAG_COLUMNS = ("data_access_group", "data_access_group_id", "data_access_group_label")
USER_COLUMNS = PROFILE + DAG_COLUMNS + EXPORT_FLAGS + ("forms", "forms_export")


def export_users(ctx: ApiContext) -> Response:
    """A user in a role is shown with the role's rights: the rights in force, which is what
    REDCap's User Rights page shows for such a user. Expiration and DAG are the user's own.

    A caller in a DAG sees only the users of that DAG, as REDCap's User Rights page shows a
    DAG-assigned user only their own group's users (names, emails and rights are not theirs
    to see); the API's rule is undocumented, so this fails closed."""
    ctx.require_export()
    project = ctx.project
    with ctx.read_snapshot() as conn:
        users = own_dag_users(ctx, store.list_project_users(conn, project.project_id))
    rows: list[dict[str, Any]] = []
    for user in users:
        dag = project.dag_by_id.get(user["group_id"])
        row: dict[str, Any] = {k: user[k] for k in PROFILE}
        row.update(
            data_access_group=dag.unique_name if dag else "",
            data_access_group_id=dag.group_id if dag else "",
            data_access_group_label=dag.group_name if dag else "",
        )
        row.update(
            rights_columns(project, user["rights"], EXPORT_FLAGS, as_objects=ctx.format == "json")
        )
        rows.append(row)
    return list_response(ctx, rows, USER_COLUMNS)


def import_users(ctx: ApiContext) -> Response:
    ctx.require_user_rights()
    rows = import_rows(ctx, nested=FORM_RIGHTS_COLUMNS)
    with ctx.write_transaction() as conn:
        # The design as of the lock: whole form lists cover the instruments it has now.
        project = ctx.project
        existing = {u["username"]: u for u in store.list_project_users(conn, project.project_id)}
        for row in rows:
            username = str(row.get("username", "")).strip()
            if not username:
                raise ApiError(400, "The username is missing")
            if len(username) > MAX_USERNAME:
                raise ApiError(
                    400,
                    f"The username is longer than {MAX_USERNAME} characters: {username[:40]}...",
                )
            current = existing.get(username)
            if current is not None and current["role_id"] is not None:
                check_role_rights(current, row, project)
                rights = current["own_rights"]
            else:
                base = current["rights"] if current else Rights(data_export=NO_ACCESS)
                rights = rights_from_row(row, project, base, whole_lists=True)
            group_id = current["group_id"] if current else None
            if "data_access_group" in row:
                # A blank DAG takes the user out of their DAG (redcapAPI's suite records it).
                group_id = group_id_of(project, str(row["data_access_group"] or "").strip())
            if current is not None:
                require_own_dag(ctx, username, current["group_id"])
            require_own_dag(ctx, username, group_id)
            store.ensure_user(
                conn,
                username,
                email=row.get("email"),
                firstname=row.get("firstname"),
                lastname=row.get("lastname"),
            )
            expiration = expiration_of(row, username, current["expiration"] if current else "")
            store.save_project_user(
                conn, project.project_id, username, rights, group_id, expiration
            )
            dag = project.dag_by_id[group_id].unique_name if group_id in project.dag_by_id else ""
            in_role = current is not None and current["role_id"] is not None
            audit_change(
                ctx,
                f"{'Edit' if current else 'Add'} user {username}",
                [("user", username), ("expiration", expiration), ("data_access_group", dag)]
                + rights_audit_pairs(project, None if in_role else rights),
            )
    return count_response(ctx, len(rows))


def delete_users(ctx: ApiContext) -> Response:
    ctx.require_user_rights()
    with ctx.write_transaction() as conn:
        members = {
            u["username"]: u["group_id"]
            for u in store.list_project_users(conn, ctx.project.project_id)
        }
        names = required_names("users", ctx.request.list("users"), members)
        for name in names:
            require_own_dag(ctx, name, members[name])
        store.delete_project_users(conn, ctx.project.project_id, names)
    for name in names:
        audit_change(ctx, f"Delete user {name}", [("user", name)])
    return count_response(ctx, len(names))
