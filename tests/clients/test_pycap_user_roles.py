"""Unmodified PyCap's user-role methods against the running server, on the project PyCap's own
integration suite builds (its ``test_simple_project.xml``, exported from real REDCap)."""

from __future__ import annotations

import pytest
from redcap import Project, RedcapError

from projectxml.projectxml_helpers import create_from_fixture


@pytest.fixture
def simple_project(server) -> Project:
    api = create_from_fixture(server, "pycap_test_simple_project.xml")
    return Project(server.url, api.token)


def test_export_user_roles(simple_project: Project):
    [role] = simple_project.export_user_roles()
    assert role["role_label"] == "Example Role"
    assert role["unique_role_name"] == "U-573AEYRNR8"
    frame = simple_project.export_user_roles(format_type="df")
    assert list(frame["role_label"]) == ["Example Role"]


def test_import_delete_user_roles(simple_project: Project):
    assert simple_project.import_user_roles([{"role_label": "New Role"}]) == 1
    new_role_id = simple_project.export_user_roles()[-1]["unique_role_name"]
    assert new_role_id != "U-573AEYRNR8"
    assert simple_project.delete_user_roles([new_role_id]) == 1
    assert [r["role_label"] for r in simple_project.export_user_roles()] == ["Example Role"]


def test_exported_roles_import_back(simple_project: Project):
    roles = simple_project.export_user_roles()
    assert simple_project.import_user_roles(roles) == 1
    assert simple_project.export_user_roles() == roles
    as_csv = simple_project.export_user_roles(format_type="csv")
    assert simple_project.import_user_roles(as_csv, import_format="csv") == 1
    assert simple_project.export_user_roles() == roles


def test_export_import_user_role_assignments(simple_project: Project):
    new_user = "pandeharris@gmail.com"
    simple_project.import_users([{"username": new_user}])
    example_role_name = simple_project.export_user_roles()[0]["unique_role_name"]
    assert (
        simple_project.import_user_role_assignment(
            [{"username": new_user, "unique_role_name": example_role_name}]
        )
        == 1
    )
    assignments = simple_project.export_user_role_assignment()
    mine = [a["unique_role_name"] for a in assignments if a["username"] == new_user]
    assert mine == [example_role_name]
    # The user now has the role's rights: Example Role has no API access.
    user = [u for u in simple_project.export_users() if u["username"] == new_user][0]
    assert user["api_export"] == 0 and user["stats_and_charts"] == 1
    # A role with users cannot be deleted; PyCap raises REDCap's error.
    with pytest.raises(RedcapError, match="still have users"):
        simple_project.delete_user_roles([example_role_name])
    assert simple_project.delete_users([new_user]) == 1


def test_role_assignment_round_trip(simple_project: Project):
    """PyCap's docstring example: exported assignments import back, one row per user."""
    assignments = simple_project.export_user_role_assignment()
    assert assignments == [{"username": "admin", "unique_role_name": "", "data_access_group": ""}]
    assert simple_project.import_user_role_assignment(assignments) == 1
