"""User roles, user-role assignments, role-derived rights as a security boundary, and the
DAG Switcher, over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from builders import Api, clinical_classic, create_project, project_id, user_api
from localcap.cli import main
from localcap.model.rights import FLAG_RIGHTS
from projectxml.projectxml_helpers import create_from_fixture, create_from_odm, export_xml

ROLE_KEYS = ["unique_role_name", "role_label", *FLAG_RIGHTS, "forms", "forms_export"]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def xml_items(text: str) -> list[dict[str, str]]:
    return [{c.tag: c.text or "" for c in item} for item in ET.fromstring(text.encode())]


def error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def roles(api: Api) -> dict[str, dict[str, Any]]:
    """role_label -> exported role (json)."""
    return {r["role_label"]: r for r in api.json(content="userRole")}


def assign(api: Api, username: str, role: str, dag: str = "") -> None:
    row = {"username": username, "unique_role_name": role, "data_access_group": dag}
    assert api.import_json("userRoleMapping", [row]) == 1


def delete_roles(api: Api, *names: str) -> requests.Response:
    arrays = {f"roles[{i}]": name for i, name in enumerate(names)}
    return api.call(content="userRole", action="delete", format="json", **arrays)


# -- Export / Import / Delete User Roles ----------------------------------------------------
def test_a_new_role_gets_a_redcap_style_name_and_redcaps_defaults(server):
    api = clinical_classic(server)
    assert api.json(content="userRole") == []
    assert api.import_json("userRole", [{"role_label": "Monitor", "unique_role_name": ""}]) == 1
    [role] = api.json(content="userRole")
    assert list(role) == ROLE_KEYS
    assert re.fullmatch(r"U-[A-Z0-9]{10}", role["unique_role_name"])
    assert role["role_label"] == "Monitor"
    assert role["api_export"] == "0" and role["user_rights"] == "0" and role["reports"] == "1"
    assert role["forms"] == {"demographics": 1, "visit": 1, "adverse_events": 1}
    assert role["forms_export"] == {"demographics": 2, "visit": 2, "adverse_events": 2}


def test_a_new_roles_defaults_are_those_of_an_untouched_role_in_real_redcap(server):
    """PyCap's integration project, exported from real REDCap, holds "Example Role", a role
    never edited: a role created with only a label gets exactly its rights."""
    api = create_from_fixture(server, "pycap_test_simple_project.xml")
    api.import_json("userRole", [{"role_label": "Fresh"}])
    [example, fresh] = api.json(content="userRole")
    names = ("unique_role_name", "role_label")
    assert {k: v for k, v in fresh.items() if k not in names} == {
        k: v for k, v in example.items() if k not in names
    }


def test_roles_in_csv_and_xml_and_an_update_by_unique_name(server):
    api = clinical_classic(server)
    api.import_json(
        "userRole",
        [
            {
                "role_label": "Data entry",
                "api_export": 1,
                "forms": {"demographics": 1, "visit": 2, "adverse_events": 0},
                "forms_export": {"demographics": 3, "visit": 1, "adverse_events": 0},
            }
        ],
    )
    name = roles(api)["Data entry"]["unique_role_name"]
    [row] = csv_rows(api.ok(content="userRole", format="csv").text)
    assert list(row) == ROLE_KEYS
    assert row["forms"] == "demographics:1,visit:2,adverse_events:0"
    assert row["forms_export"] == "demographics:3,visit:1,adverse_events:0"
    assert row["api_export"] == "1"
    [item] = xml_items(api.ok(content="userRole", format="xml").text)
    assert item["unique_role_name"] == name and item["forms_export"] == row["forms_export"]
    # CSV import updates the role named; rights left out stay as they were.
    update = f"unique_role_name,role_label,design,forms_export\n{name},Data manager,1,visit:0\n"
    response = api.ok(content="userRole", format="csv", data=update, returnFormat="json")
    assert response.json() == 1
    role = roles(api)["Data manager"]
    assert role["unique_role_name"] == name
    assert role["design"] == "1" and role["api_export"] == "1"
    assert role["forms_export"] == {"demographics": 3, "visit": 0, "adverse_events": 0}
    # Exported roles import back unchanged (PyCap's doctest does exactly this).
    exported = api.json(content="userRole")
    assert api.import_json("userRole", exported) == 1
    assert api.json(content="userRole") == exported


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"role_label": ""}], "role_label is missing"),
        ([{"unique_role_name": "U-NOPE000000", "role_label": "x"}], "does not exist"),
        ([{"role_label": "ok"}, {"role_label": "bad", "forms": {"nope": 1}}], "nope"),
        ([{"role_label": "ok"}, {"role_label": "bad", "design": "7"}], "design"),
    ],
)
def test_bad_role_imports_are_400s_and_store_nothing(server, rows, message):
    api = clinical_classic(server)
    response = api.call(content="userRole", format="json", data=json.dumps(rows))
    status, text = error(response)
    assert status == 400 and message in text
    assert api.json(content="userRole") == []


def test_delete_roles_refuses_unknown_roles_and_roles_with_users(server):
    api = clinical_classic(server)
    api.import_json("userRole", [{"role_label": "A"}, {"role_label": "B"}])
    a, b = (roles(api)[label]["unique_role_name"] for label in ("A", "B"))
    status, text = error(delete_roles(api, a, "U-UNKNOWN000"))
    assert status == 400 and "U-UNKNOWN000" in text and a not in text
    assert set(roles(api)) == {"A", "B"}
    assert error(api.call(content="userRole", action="delete", format="json"))[0] == 400
    api.import_json("user", [{"username": "nurse"}])
    assign(api, "nurse", a)
    status, text = error(delete_roles(api, a, b))
    assert status == 400 and a in text and "still have users" in text
    assert set(roles(api)) == {"A", "B"}  # nothing deleted, not even B
    assign(api, "nurse", "")
    assert delete_roles(api, a, b).json() == 2
    assert api.json(content="userRole") == []


def test_role_methods_need_the_user_rights_privilege(server):
    api = clinical_classic(server)
    clerk = user_api(api, "clerk", user_rights=0)
    for params in (
        {"content": "userRole"},
        {"content": "userRoleMapping"},
        {"content": "userRole", "action": "import", "data": '[{"role_label": "x"}]'},
        {"content": "userRole", "action": "delete", "roles[0]": "U-X"},
    ):
        status, text = error(clerk.call(format="json", **params))
        assert status == 403 and "User Rights" in text
    assert api.json(content="userRole") == []


def test_read_only_user_rights_may_export_users_but_not_change_them(server):
    """``user_rights`` 2 is REDCap's read-only User Rights: REDCapR recorded Export Users
    showing a user with it as ``2``, not ``1``."""
    api = clinical_classic(server)
    viewer = user_api(api, "viewer", user_rights=2, api_import=1)
    exported = {u["username"]: u for u in viewer.json(content="user")}
    assert exported["viewer"]["user_rights"] == 2
    assert [r["role_label"] for r in viewer.json(content="userRole")] == []
    for params in (
        {"content": "user", "action": "import", "data": '[{"username": "x"}]'},
        {"content": "userRole", "action": "import", "data": '[{"role_label": "x"}]'},
    ):
        status, text = error(viewer.call(format="json", **params))
        assert status == 403 and "User Rights" in text
    assert "x" not in {u["username"] for u in api.json(content="user")}


# -- User-role assignments ------------------------------------------------------------------
def test_user_role_mapping_export_import_and_removal(server):
    api = clinical_classic(server)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    api.import_json("userRole", [{"role_label": "Nurse"}])
    nurse = roles(api)["Nurse"]["unique_role_name"]
    api.import_json("user", [{"username": "amy"}, {"username": "bob"}])
    assert api.json(content="userRoleMapping") == [
        {"username": "admin", "unique_role_name": "", "data_access_group": ""},
        {"username": "amy", "unique_role_name": "", "data_access_group": ""},
        {"username": "bob", "unique_role_name": "", "data_access_group": ""},
    ]
    rows = [
        {"username": "amy", "unique_role_name": nurse, "data_access_group": "site_a"},
        {"username": "bob", "unique_role_name": nurse},
    ]
    assert api.import_json("userRoleMapping", rows) == 2
    mapping = {m["username"]: m for m in api.json(content="userRoleMapping")}
    assert mapping["amy"] == {
        "username": "amy",
        "unique_role_name": nurse,
        "data_access_group": "site_a",
    }
    assert mapping["bob"]["unique_role_name"] == nurse
    as_csv = csv_rows(api.ok(content="userRoleMapping", format="csv").text)
    assert as_csv[1] == {
        "username": "amy",
        "unique_role_name": nurse,
        "data_access_group": "site_a",
    }
    # A blank role takes the user out of it; a blank DAG leaves the user's DAG alone.
    assign(api, "amy", "")
    mapping = {m["username"]: m for m in api.json(content="userRoleMapping")}
    assert mapping["amy"] == {
        "username": "amy",
        "unique_role_name": "",
        "data_access_group": "site_a",
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"username": "ghost", "unique_role_name": ""}, "not a user of this project"),
        ({"username": "amy", "unique_role_name": "U-NOPE000000"}, "does not exist"),
        ({"username": "amy", "unique_role_name": "", "data_access_group": "nope"}, "nope"),
    ],
)
def test_bad_assignments_are_400s_and_change_nothing(server, row, message):
    api = clinical_classic(server)
    api.import_json("userRole", [{"role_label": "Nurse"}])
    nurse = roles(api)["Nurse"]["unique_role_name"]
    api.import_json("user", [{"username": "amy"}])
    rows = [{"username": "amy", "unique_role_name": nurse}, row]
    status, text = error(api.call(content="userRoleMapping", format="json", data=json.dumps(rows)))
    assert status == 400 and message in text
    mapping = {m["username"]: m for m in api.json(content="userRoleMapping")}
    assert mapping["amy"]["unique_role_name"] == ""


# -- Rights in force for a user in a role ---------------------------------------------------
def test_export_users_shows_the_roles_rights_and_import_users_cannot_override_them(server):
    api = clinical_classic(server)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    user_api(api, "amy", forms_export={"demographics": 1, "visit": 1, "adverse_events": 1})
    api.import_json(
        "userRole",
        [
            {
                "role_label": "Blind",
                "api_export": 1,
                "forms_export": {"demographics": 1, "visit": 0, "adverse_events": 2},
            }
        ],
    )
    blind = roles(api)["Blind"]["unique_role_name"]
    assign(api, "amy", blind, "site_a")
    amy = {u["username"]: u for u in api.json(content="user")}["amy"]
    assert amy["forms_export"] == {"demographics": 1, "visit": 0, "adverse_events": 2}
    assert amy["api_import"] == 0  # the role's, not amy's own
    assert amy["data_access_group"] == "site_a"  # the DAG stays the user's own
    # Giving amy other rights while she is in the role is refused, and changes nothing.
    response = api.call(
        content="user", format="json", data=json.dumps([{"username": "amy", "api_import": 1}])
    )
    status, text = error(response)
    assert status == 400 and blind in text
    # Her exported row imports back (nothing changes), and her profile can change.
    amy["email"] = "amy@example.org"
    assert api.import_json("user", [amy]) == 1
    again = {u["username"]: u for u in api.json(content="user")}["amy"]
    assert again == amy
    # Out of the role, her own rights apply again.
    assign(api, "amy", "")
    own = {u["username"]: u for u in api.json(content="user")}["amy"]
    assert own["forms_export"] == {"demographics": 1, "visit": 1, "adverse_events": 1}
    assert own["api_import"] == 1


def _blinded_site(server) -> tuple[Api, Api]:
    """Two sites' records with a file each; user ``blind`` (own rights: everything) put in
    a role with No Access export rights on ``visit`` and in DAG site_a."""
    api = clinical_classic(server, repeating=False)
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    records = [
        {
            "record_id": str(n),
            "first_name": f"Patient {n}",
            "weight": str(60 + n),
            "height": "1.7",
            "redcap_data_access_group": dag,
        }
        for n, dag in ((1, "site_a"), (2, "site_b"), (3, "site_a"))
    ]
    assert api.import_json("record", records)["count"] == 3
    for record in ("1", "2"):
        api.ok(
            content="file",
            action="import",
            record=record,
            field="scan",
            files={"file": ("scan.txt", b"secret scan " + record.encode())},
        )
    every = {"demographics": 1, "visit": 1, "adverse_events": 1}
    blind = user_api(api, "blind", forms=every, forms_export=every, reports=1)
    api.import_json(
        "userRole",
        [
            {
                "role_label": "Visit-blind",
                "api_export": 1,
                "api_import": 1,
                "forms": every,
                "forms_export": {"demographics": 1, "visit": 0, "adverse_events": 1},
            }
        ],
    )
    assign(api, "blind", roles(api)["Visit-blind"]["unique_role_name"], "site_a")
    return api, blind


def test_role_no_access_hides_instrument_in_records_reports_and_files(server):
    api, blind = _blinded_site(server)
    rows = blind.json(content="record")
    assert [r["record_id"] for r in rows] == ["1", "3"]  # the DAG limit holds too
    visit_columns = {"weight", "height", "bmi", "visit_ok", "scan", "signature", "visit_complete"}
    assert not visit_columns & set(rows[0]) and rows[0]["first_name"] == "Patient 1"
    flat = blind.ok(content="record", format="csv", fields="record_id,weight").text
    assert flat.splitlines() == ["record_id", "1", "3"]
    fields = ["record_id", "first_name", "weight", "ae_term"]
    [report_id] = api.json(
        content="report",
        action="import",
        data=json.dumps([{"title": "Weights", "fields": fields}]),
        returnContent="ids",
    )
    report = blind.json(content="report", report_id=str(report_id))
    assert report == [
        {"record_id": "1", "first_name": "Patient 1", "ae_term": ""},
        {"record_id": "3", "first_name": "Patient 3", "ae_term": ""},
    ]
    xml = blind.ok(content="record", format="xml").text
    assert "<weight>" not in xml and "Patient 2" not in xml
    response = blind.call(content="file", action="export", record="1", field="scan", format="json")
    assert response.status_code == 403 and b"secret" not in response.content
    other_site = blind.call(
        content="file", action="export", record="2", field="scan", format="json"
    )
    assert other_site.status_code in (400, 403) and b"secret" not in other_site.content
    # The role is what hid it: out of the role, the user's own rights show the visit data.
    assign(api, "blind", "")
    assert blind.json(content="record", fields="weight")[0]["weight"] == "61"
    assert blind.ok(content="file", action="export", record="1", field="scan").content == (
        b"secret scan 1"
    )


def test_role_with_no_access_anywhere_gets_the_no_access_error(server):
    api, blind = _blinded_site(server)
    name = roles(api)["Visit-blind"]["unique_role_name"]
    none = {"demographics": 0, "visit": 0, "adverse_events": 0}
    api.import_json("userRole", [{"unique_role_name": name, "forms_export": none}])
    [report_id] = api.json(
        content="report",
        action="import",
        data=json.dumps([{"title": "All", "fields": ["record_id", "first_name"]}]),
        returnContent="ids",
    )
    status, text = error(blind.call(content="report", report_id=str(report_id), format="json"))
    assert status == 403 and '"No Access" data export rights' in text


def test_reports_limited_to_a_role(server):
    api, blind = _blinded_site(server)
    name = roles(api)["Visit-blind"]["unique_role_name"]
    other = user_api(api, "other", forms_export={"demographics": 1})
    [for_role, for_nobody] = api.json(
        content="report",
        action="import",
        data=json.dumps(
            [
                {"title": "Role only", "fields": ["record_id"], "user_access": {"roles": [name]}},
                {"title": "Nobody", "fields": ["record_id"], "user_access": {"users": ["x"]}},
            ]
        ),
        returnContent="ids",
    )
    assert [r["record_id"] for r in blind.json(content="report", report_id=str(for_role))] == [
        "1",
        "3",
    ]
    status, text = error(other.call(content="report", report_id=str(for_role), format="json"))
    assert status == 403 and text == 'User "other" does not have access to this report.'
    assert error(blind.call(content="report", report_id=str(for_nobody), format="json"))[0] == 403
    listed = [r["title"] for r in blind.json(content="report", action="list")]
    assert listed == ["Role only"]


# -- Project XML ----------------------------------------------------------------------------
def test_roles_from_a_real_project_xml(server):
    api = create_from_fixture(server, "pycap_doctest_project.xml")
    [role] = api.json(content="userRole")
    # PyCap's docstring example, recorded against real REDCap from this very project.
    assert role["unique_role_name"] == "U-942MC93HH8" and role["role_label"] == "Test role"
    assert role["forms"] == {"form_1": 2} and role["forms_export"] == {"form_1": 0}
    assert all(role[k] == "0" for k in FLAG_RIGHTS)
    simple = create_from_fixture(server, "pycap_test_simple_project.xml")
    [example] = simple.json(content="userRole")
    assert example["role_label"] == "Example Role" and example["unique_role_name"] == "U-573AEYRNR8"
    assert example["stats_and_charts"] == "1" and example["manage_survey_participants"] == "1"
    assert example["forms"]["demographics"] == 1
    assert set(example["forms_export"].values()) == {2}  # data_export_tool="2", pre-REDCap 12


def test_project_xml_round_trip_keeps_roles(server):
    api = create_from_fixture(server, "pycap_doctest_project.xml")
    api.import_json("userRole", [{"role_label": "Extra", "design": 1}])
    xml = export_xml(api)
    assert "<redcap:UserRolesGroup>" in xml
    assert 'data_quality_resolution="1"' in xml  # kept though localcap does not use it
    copy = create_from_odm(server, xml, "Copy")
    assert copy.json(content="userRole") == api.json(content="userRole")
    assert export_xml(copy).count("<redcap:UserRoles ") == 2


# -- The DAG Switcher -----------------------------------------------------------------------
def database_args(server) -> list[str]:
    url = server.engine.url.render_as_string(hide_password=False)
    return ["--data-dir", str(server.data_dir), "--database-url", url]


def allow_switch(api: Api, username: str, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        [
            "dag",
            "allow-switch",
            *database_args(api.server),
            "--project",
            str(project_id(api)),
            "--user",
            username,
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


def switch(api: Api, dag: str) -> requests.Response:
    return api.call(content="dag", action="switch", dag=dag, format="json")


def test_dag_switch(server):
    api, blind = _blinded_site(server)
    assign(api, "blind", "")  # own rights: every instrument
    status, text = error(switch(blind, "site_b"))
    assert status == 400 and "has not been given any Data Access Groups" in text
    output = allow_switch(api, "blind", "--dag", "site_a", "--dag", "site_b")
    assert "site_a, site_b" in output
    assert switch(blind, "site_b").json() == 1
    assert [r["record_id"] for r in blind.json(content="record")] == ["2"]
    mapping = {m["username"]: m for m in api.json(content="userDagMapping")}
    assert mapping["blind"]["redcap_data_access_group"] == "site_b"
    # [No Assignment] was not given; unknown DAGs and a missing parameter are errors.
    status, text = error(switch(blind, ""))
    assert status == 400 and "[No Assignment]" in text
    assert "does not exist" in error(switch(blind, "site_z"))[1]
    assert error(blind.call(content="dag", action="switch", format="json"))[0] == 400
    assert [r["record_id"] for r in blind.json(content="record")] == ["2"]  # unchanged
    allow_switch(api, "blind", "--dag", "site_a", "--no-assignment")
    assert switch(blind, "").json() == 1
    assert [r["record_id"] for r in blind.json(content="record")] == ["1", "2", "3"]
    assert error(switch(blind, "site_b"))[0] == 400  # no longer given
    assert "may no longer switch" in allow_switch(api, "blind")
    # Switching needs API Import/Update.
    reader = user_api(api, "reader", api_import=0)
    allow_switch(api, "reader", "--dag", "site_a")
    status, text = error(switch(reader, "site_a"))
    assert status == 403 and "API Import/Update" in text


def test_dag_allow_switch_cli_explains_itself_and_checks_its_input(server):
    runner = CliRunner()
    help_text = runner.invoke(main, ["dag", "allow-switch", "--help"]).output
    for option in (
        "--data-dir",
        "--database-url",
        "--project",
        "--user",
        "--dag",
        "--no-assignment",
    ):
        assert option in help_text
    api = create_project(server, "No DAGs")
    base = ["dag", "allow-switch", *database_args(server), "--project", str(project_id(api))]
    unknown = runner.invoke(main, [*base, "--user", "admin", "--dag", "nope"])
    assert unknown.exit_code != 0 and "Unknown DAG(s): nope" in unknown.output
    stranger = runner.invoke(main, [*base, "--user", "nobody"])
    assert stranger.exit_code != 0 and "is not a user of project" in stranger.output
    missing = runner.invoke(
        main, ["dag", "allow-switch", *database_args(server), "--project", "99999", "--user", "a"]
    )
    assert missing.exit_code != 0 and "There is no project 99999" in missing.output
