"""Data Access Groups and user-DAG assignment."""

from __future__ import annotations

from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import NO_DAG_RIGHTS, ApiError
from localcap.api.methods.common import (
    audit_change,
    count_response,
    import_rows,
    list_response,
    own_dag_users,
    require_no_dag,
)
from localcap.db import projects as store
from localcap.db import roles as role_store
from localcap.db.repository import folders_restricted_to_dags
from localcap.model.dags import group_id_of, plan_dags, plan_user_dags
from localcap.model.names import required_names

DAG_COLUMNS = ("data_access_group_name", "unique_group_name", "data_access_group_id")
#: A DAG that limits File Repository folders is kept (REDCap's behaviour is unrecorded): once
#: gone, the folders would be open to every DAG.
DAG_LIMITS_FOLDERS = (
    "The Data Access Group cannot be deleted because it limits access to File Repository "
    "folders (folder_id {folders}): limit those folders to another group or delete them first"
)


def require_dag_rights(ctx: ApiContext) -> None:
    ctx.require_import()
    ctx.require("data_access_groups", NO_DAG_RIGHTS)
    require_no_dag(ctx)


def export_dags(ctx: ApiContext) -> Response:
    ctx.require_export()
    rows = [
        {
            "data_access_group_name": d.group_name,
            "unique_group_name": d.unique_name,
            "data_access_group_id": d.group_id,
        }
        for d in ctx.project.dags
    ]
    return list_response(ctx, rows, DAG_COLUMNS)


def import_dags(ctx: ApiContext) -> Response:
    """A blank unique name creates a DAG; a known one renames that DAG. REDCap derives a
    DAG's unique name from its display name, so a renamed DAG gets a new unique name
    (redcapAPI's suite: "A different name" becomes ``a_different_name``). The names are
    checked and chosen inside the project's write transaction, against the DAGs as of its
    lock, so two imports at once never pick the same new unique name."""
    require_dag_rights(ctx)
    rows = import_rows(ctx)
    with ctx.write_transaction() as conn:
        project = ctx.project
        planned = plan_dags(project, rows)
        for display, unique, new_unique in planned:
            store.save_dag(conn, project.project_id, display, unique, new_unique)
            what = "Edit" if unique in project.dag_by_name else "Create"
            audit_change(
                ctx,
                f"{what} data access group",
                [("data_access_group_name", display), ("unique_group_name", new_unique)],
            )
        store.bump_design(conn, project.project_id)
    return count_response(ctx, len(planned))


def delete_dags(ctx: ApiContext) -> Response:
    """The names are looked up inside the project's write transaction, against the DAGs as of
    its lock: a DAG renamed meanwhile is no longer known by its old name."""
    require_dag_rights(ctx)
    with ctx.write_transaction() as conn:
        project = ctx.project
        names = required_names("dags", ctx.request.list("dags"), project.dag_by_name)
        group_ids = [project.dag_by_name[n].group_id for n in names]
        limited = folders_restricted_to_dags(conn, project.project_id, group_ids)
        if limited:
            # Dropping the limit would open those folders to every DAG: refuse instead.
            raise ApiError(400, DAG_LIMITS_FOLDERS.format(folders=", ".join(map(str, limited))))
        store.delete_dags(conn, project.project_id, group_ids)
    for name in names:
        audit_change(ctx, "Delete data access group", [("unique_group_name", name)])
    return count_response(ctx, len(names))


def export_user_dags(ctx: ApiContext) -> Response:
    ctx.require_export()
    project = ctx.project
    with ctx.read_snapshot() as conn:
        users = own_dag_users(ctx, store.list_project_users(conn, project.project_id))
    rows = [
        {
            "username": u["username"],
            "redcap_data_access_group": project.dag_by_id[u["group_id"]].unique_name
            if u["group_id"] in project.dag_by_id
            else "",
        }
        for u in users
    ]
    return list_response(ctx, rows, ("username", "redcap_data_access_group"))


def import_user_dags(ctx: ApiContext) -> Response:
    """Users and DAGs are checked inside the project's write transaction, against the
    project as of its lock: a user removed or a DAG deleted meanwhile is refused."""
    require_dag_rights(ctx)
    rows = import_rows(ctx)
    with ctx.write_transaction() as conn:
        project = ctx.project
        members = {u["username"] for u in store.list_project_users(conn, project.project_id)}
        planned = plan_user_dags(project, members, rows)
        for username, group_id in planned:
            store.set_user_dag(conn, project.project_id, username, group_id)
            dag = project.dag_by_id[group_id].unique_name if group_id is not None else ""
            audit_change(
                ctx,
                f"Assign user {username} to data access group",
                [("user", username), ("redcap_data_access_group", dag)],
            )
    return count_response(ctx, len(planned))


def switch_dag(ctx: ApiContext) -> Response:
    """Switch the calling user into another DAG they were given in the DAG Switcher
    (``dag`` = a unique group name; blank = "[No Assignment]", every record). Answers ``1``.

    REDCap documents the method (API Import/Update privileges required) but not its error
    texts; localcap answers 400 with a message saying what is wrong: no ``dag`` parameter, an
    unknown DAG, a user the DAG Switcher gave no DAGs, or a DAG not among the user's.
    """
    ctx.require_import()
    if "dag" not in ctx.request.params:
        raise ApiError(400, "The parameter 'dag' is missing (a unique group name, or blank)")
    name = ctx.request.get("dag").strip()
    with ctx.write_transaction() as conn:  # the DAG's name is looked up as of the lock
        project = ctx.project
        group_id = group_id_of(project, name)
        target = role_store.NO_ASSIGNMENT if group_id is None else group_id
        allowed = role_store.switch_dags(conn, project.project_id, ctx.username)
        if not allowed:
            raise ApiError(
                400,
                f'The user "{ctx.username}" has not been given any Data Access Groups to '
                "switch between (the DAG Switcher)",
            )
        if target not in allowed:
            shown = f"'{name}'" if name else "[No Assignment]"
            raise ApiError(
                400,
                f'The user "{ctx.username}" may not switch to the data access group {shown}: '
                "it is not one of the DAGs the DAG Switcher gives this user",
            )
        store.set_user_dag(
            conn,
            project.project_id,
            ctx.username,
            None if target == role_store.NO_ASSIGNMENT else target,
        )
    audit_change(
        ctx,
        f"Switch user {ctx.username} to data access group",
        [("user", ctx.username), ("data_access_group", name or "[No Assignment]")],
    )
    return count_response(ctx, 1)
