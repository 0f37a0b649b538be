"""Export/Import/Delete Users with their rights (REDCap 12+ per-instrument export rights)."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import NO_USER_RIGHTS, ApiError
from localcap.api.methods.common import (
    audit_change,
    count_response,
    import_rows,
    list_response,
    own_dag_users,
    require_own_dag,
)
from localcap.api.methods.metadata import invalid_values, required_names
from localcap.db import projects as store
from localcap.model.project import Project
from localcap.model.rights import FLAG_RIGHTS, NO_ACCESS, Rights, normalise_form_right

#: The width of the ``users.username`` column.
MAX_USERNAME = 255
PROFILE = ("username", "email", "firstname", "lastname", "expiration")
DAG_COLUMNS = ("data_access_group", "data_access_group_id", "data_access_group_label")
#: REDCap's export order of the flag rights (PyCap's doctest records it).
EXPORT_FLAGS = tuple(
    name
    for name in FLAG_RIGHTS
    if name not in ("lock_records_customization", "lock_records", "lock_records_all_forms")
) + ("lock_records_all_forms", "lock_records", "lock_records_customization")
USER_COLUMNS = PROFILE + DAG_COLUMNS + EXPORT_FLAGS + ("forms", "forms_export")
#: The rights columns a JSON or XML import may give as an object, ``{"form": level}``.
FORM_RIGHTS_COLUMNS = frozenset({"forms", "forms_export"})


#: ``user_rights`` 2: REDCap's read-only User Rights (the XML of a role records it as "2").
READ_ONLY_USER_RIGHTS = 2


def require_user_rights(ctx: ApiContext) -> None:
    """Changing users or roles needs full User Rights (1); read-only User Rights (2, in
    REDCap 14+) may look but not change."""
    ctx.require_import()
    ctx.require("user_rights", NO_USER_RIGHTS)
    if ctx.rights.flags.get("user_rights") == READ_ONLY_USER_RIGHTS:
        raise ApiError(403, NO_USER_RIGHTS)


def _form_levels(project: Project, rights: Rights) -> tuple[dict[str, int], dict[str, int]]:
    forms = {f.form_name: rights.forms.get(f.form_name, 0) for f in project.forms}
    exports = {f.form_name: rights.export_level(f.form_name) for f in project.forms}
    return forms, exports


def rights_columns(
    ctx: ApiContext, rights: Rights, flags: tuple[str, ...], flag_type: type = int
) -> dict[str, Any]:
    """The rights part of an Export Users / Export User Roles row: the flags as
    ``flag_type`` (REDCap sends users' as JSON numbers, roles' as strings: PyCap's doctests
    record both), then ``forms`` and ``forms_export``: JSON objects, or ``form:level`` lists
    joined with commas in CSV and XML."""
    forms, exports = _form_levels(ctx.project, rights)
    row: dict[str, Any] = {name: flag_type(rights.flags.get(name, 0)) for name in flags}
    if ctx.format == "json":
        row.update(forms=forms, forms_export=exports)
    else:
        row.update(
            forms=",".join(f"{k}:{v}" for k, v in forms.items()),
            forms_export=",".join(f"{k}:{v}" for k, v in exports.items()),
        )
    return row


def log_rights_change(
    ctx: ApiContext, action: str, who: list[tuple[str, Any]], rights: Rights | None
) -> None:
    """Audit a user or role change as REDCap logs it: ``Edit user bob`` with
    ``user = 'bob', ..., design = '1', forms = 'demographics:1,...'`` (the rights as stored)."""
    pairs = list(who)
    if rights is not None:
        forms, exports = _form_levels(ctx.project, rights)
        pairs += [(name, rights.flags.get(name, 0)) for name in EXPORT_FLAGS]
        pairs += [
            ("forms", ",".join(f"{k}:{v}" for k, v in forms.items())),
            ("forms_export", ",".join(f"{k}:{v}" for k, v in exports.items())),
        ]
    audit_change(ctx, action, pairs)


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
        row.update(rights_columns(ctx, user["rights"], EXPORT_FLAGS))
        rows.append(row)
    return list_response(ctx, rows, USER_COLUMNS)


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
                raise ApiError(400, f"The value of '{column}' is not valid") from None
        else:
            items = [part.split(":", 1) for part in text.split(",") if part.strip()]
    levels: dict[str, int] = {}
    for item in items:
        if len(item) != 2:
            raise ApiError(400, f"The value of '{column}' is not valid: use form_name:level")
        form, level = str(item[0]).strip(), str(item[1]).strip()
        if form not in project.form_by_name:
            raise invalid_values(column, [form])
        try:
            levels[form] = int(level)
        except ValueError:
            raise ApiError(
                400, f"The level '{level}' for '{form}' in '{column}' is not valid"
            ) from None
    return levels


def _flag(value: Any, name: str) -> int:
    text = str(value).strip()
    if text not in ("0", "1", "2"):
        raise ApiError(400, f"The value '{text}' of the right '{name}' is not valid (use 0 or 1)")
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
                raise ApiError(400, f"The export level '{level}' for '{form}' is not valid (0-3)")
            rights.forms_export[form] = level
    return rights


def _flag_level(value: Any) -> int:
    text = str(value).strip()
    if text not in ("0", "1", "2", "3"):
        raise ApiError(400, f"The value '{text}' of 'data_export' is not valid (use 0-3)")
    return int(text)


def _effective(project: Project, rights: Rights) -> tuple[Any, ...]:
    """What the rights allow in this project (absent entries and explicit zeros alike)."""
    return (
        tuple(rights.flag(name) for name in FLAG_RIGHTS),
        _form_levels(project, rights),
    )


def check_role_rights(user: dict[str, Any], row: dict[str, Any], project: Project) -> None:
    """A user in a role has the role's rights: an import that would give the user other
    rights is refused (400) rather than silently ignored.

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
        raise ApiError(
            400,
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
            raise ApiError(
                400, f"The expiration date of the user '{username}' must be in YYYY-MM-DD format"
            )
    return value


def import_users(ctx: ApiContext) -> Response:
    require_user_rights(ctx)
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
                dag_name = str(row["data_access_group"] or "").strip()
                if dag_name and dag_name not in project.dag_by_name:
                    raise ApiError(400, f"The data access group '{dag_name}' does not exist")
                group_id = project.dag_by_name[dag_name].group_id if dag_name else None
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
            log_rights_change(
                ctx,
                f"{'Edit' if current else 'Add'} user {username}",
                [("user", username), ("expiration", expiration), ("data_access_group", dag)],
                None if current is not None and current["role_id"] is not None else rights,
            )
    return count_response(ctx, len(rows))


def delete_users(ctx: ApiContext) -> Response:
    require_user_rights(ctx)
    with ctx.write_transaction() as conn:
        members = {
            u["username"]: u["group_id"]
            for u in store.list_project_users(conn, ctx.project.project_id)
        }
        names = required_names(ctx, "users", members)
        for name in names:
            require_own_dag(ctx, name, members[name])
        store.delete_project_users(conn, ctx.project.project_id, names)
    for name in names:
        log_rights_change(ctx, f"Delete user {name}", [("user", name)], None)
    return count_response(ctx, len(names))
