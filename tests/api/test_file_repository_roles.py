"""Role-limited File Repository folders, with user roles set up through the API as PyCap does.

Roles come from ``content=userRole`` (import ``[{"role_label": ..}]``, export to read the
``unique_role_name``) and users join them with ``content=userRoleMapping``. The ``role_id`` a
folder is limited to is read from the database (REDCap's role export does not carry it).

A folder limited to a role is visible to the users in that role only: not to users in another
role, nor to users in no role (REDCap's documentation: without ``role_id`` a folder is open to
"users in all User Roles and users in no User Roles").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from test_file_repository import (
    FILE_MISSING,
    FOLDER_MISSING,
    J,
    create_folder,
    download,
    error,
    listing,
    ls,
    new_folder,
    project_id,
    put,
    remove,
    upload,
    user_api,
)

from builders import Api, create_project
from localcap.db import schema as t
from localcap.db.transactions import read_snapshot

#: The rights a role needs for the File Repository over the API.
ROLE_RIGHTS = {"api_export": 1, "api_import": 1, "file_repository": 1}


def add_role(api: Api, label: str) -> tuple[str, int]:
    """Create a role; returns its unique name and role_id."""
    api.import_json("userRole", [{"role_label": label, **ROLE_RIGHTS}])
    [unique] = [
        r["unique_role_name"] for r in api.json(content="userRole") if r["role_label"] == label
    ]
    pid = project_id(api)
    with read_snapshot(api.server.engine) as conn:
        role_id = conn.execute(
            select(t.user_roles.c.role_id).where(
                t.user_roles.c.project_id == pid,
                t.user_roles.c.unique_role_name == unique,
            )
        ).scalar_one()
    return unique, int(role_id)


def member(api: Api, username: str, role: str, **rights: Any) -> Api:
    user = user_api(api, username, **rights)
    api.import_json("userRoleMapping", [{"username": username, "unique_role_name": role}])
    return user


def test_role_limited_folder(server):
    api = create_project(server, "Repository roles")
    monitors, monitors_id = add_role(api, "Monitors")
    coordinators, _ = add_role(api, "Coordinators")
    folder = new_folder(api, "Monitoring", role_id=monitors_id)
    monitor = member(api, "monitor", monitors)
    # Only the role's members reach inside the folder, so one of them makes the subfolder.
    inside = new_folder(monitor, "open subfolder", folder_id=folder)
    coordinator = member(api, "coordinator", coordinators)
    no_role = user_api(api, "no_role")

    # The creator is in no role: the folder is hidden from them too.
    assert ls(api) == []
    assert ls(monitor) == [{"folder_id": folder, "name": "Monitoring", "role": monitors}]
    doc_id = put(monitor, "report.txt", b"monitoring", folder_id=inside)
    assert download(monitor, doc_id).content == b"monitoring"

    for user in (coordinator, no_role, api):
        assert ls(user) == []
        for target in (folder, inside):
            assert error(listing(user, folder_id=target, **J)) == (
                400,
                FOLDER_MISSING.format(target),
            )
            assert error(upload(user, "x.txt", b"x", folder_id=target, **J))[0] == 400
            assert error(create_folder(user, "x", folder_id=target, **J))[0] == 400
        assert error(download(user, doc_id, **J)) == (400, FILE_MISSING.format(doc_id))
        assert error(remove(user, doc_id, **J)) == (400, FILE_MISSING.format(doc_id))
    assert remove(monitor, doc_id).status_code == 200


def test_role_id_must_be_a_role_of_the_project(server):
    mine = create_project(server, "mine")
    theirs = create_project(server, "theirs")
    _, their_role = add_role(theirs, "Theirs")
    assert error(create_folder(mine, "x", role_id=their_role, **J)) == (
        400,
        'The value of the parameter "role_id" is not valid',
    )
    _, my_role = add_role(mine, "Mine")
    assert new_folder(mine, "limited", role_id=my_role) > 0
