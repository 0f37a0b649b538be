"""Rights as a boundary for the newer methods: expired users, missing rights, no partial write.

REDCap suspends a user from a project once the user's expiration date has passed; the API then
answers as for a token without API rights. Every method that needs a right answers REDCap's
403 without it, and leaves the project as it was.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from builders import Api, clinical_classic, user_api
from surveys.survey_helpers import enable_survey


@pytest.fixture(scope="module")
def project(server) -> Api:
    api = clinical_classic(server, repeating=False)
    api.import_json("record", [{"record_id": "1", "first_name": "IDENT1"}])
    enable_survey(api, "demographics")
    api.ok(content="fileRepository", action="import", files={"file": ("kept.txt", b"kept")})
    return api


@pytest.mark.parametrize(
    ("days", "allowed"),
    [(-1, False), (-400, False), (0, True), (1, True), (None, True)],
)
def test_an_expired_user_is_refused_everything(project, days, allowed):
    expiration = "" if days is None else (date.today() + timedelta(days=days)).isoformat()
    username = f"expiring_{'never' if days is None else days}".replace("-", "m")
    user = user_api(
        project, username, expiration=expiration, user_rights=1, file_repository=1, data_export=1
    )
    for params in (
        {"content": "record", "format": "json"},
        {"content": "project", "format": "json"},
        {"content": "userRole", "format": "json"},
        {"content": "fileRepository", "action": "list", "format": "json"},
        {"content": "pdf", "record": "1"},
        {"content": "record", "format": "json", "type": "eav"},
    ):
        response = user.call(**params)
        if allowed:
            assert response.status_code == 200, (params, response.text)
        else:
            assert response.status_code == 403, (params, response.text)
            assert "IDENT1" not in response.text


@pytest.mark.parametrize("bad", ["tomorrow", "2024-13-01", "20240101", "2024-1-1", "9" * 40])
def test_an_expiration_that_is_not_a_date_is_refused_and_nothing_is_written(project, bad):
    response = project.call(
        content="user",
        action="import",
        format="json",
        data=[{"username": "first_ok"}, {"username": "badexp", "expiration": bad}],
    )
    assert response.status_code == 400, response.text
    assert "YYYY-MM-DD" in response.json()["error"]
    users = {u["username"] for u in project.json(content="user")}
    assert "first_ok" not in users and "badexp" not in users


#: (what is called, the right taken away). Every user below has every right but that one.
GUARDED = [
    ({"content": "fileRepository", "action": "createFolder", "name": "x"}, "api_import"),
    ({"content": "fileRepository", "action": "createFolder", "name": "x"}, "file_repository"),
    ({"content": "fileRepository", "action": "import"}, "api_import"),
    ({"content": "fileRepository", "action": "import"}, "file_repository"),
    ({"content": "fileRepository", "action": "list"}, "api_export"),
    ({"content": "fileRepository", "action": "list"}, "file_repository"),
    ({"content": "fileRepository", "action": "export", "doc_id": "1"}, "file_repository"),
    ({"content": "fileRepository", "action": "delete", "doc_id": "1"}, "api_import"),
    ({"content": "fileRepository", "action": "delete", "doc_id": "1"}, "file_repository"),
    ({"content": "userRole", "format": "json"}, "user_rights"),
    ({"content": "userRole", "format": "json"}, "api_export"),
    ({"content": "userRole", "action": "import", "data": '[{"role_label":"R"}]'}, "user_rights"),
    ({"content": "userRole", "action": "import", "data": '[{"role_label":"R"}]'}, "api_import"),
    ({"content": "userRole", "action": "delete", "roles[0]": "x"}, "user_rights"),
    ({"content": "userRoleMapping", "format": "json"}, "user_rights"),
    (
        {"content": "userRoleMapping", "action": "import", "data": '[{"username":"admin"}]'},
        "user_rights",
    ),
    ({"content": "user", "action": "import", "data": '[{"username":"new"}]'}, "user_rights"),
    ({"content": "participantList", "instrument": "demographics"}, "manage_survey_participants"),
    ({"content": "surveyLink", "instrument": "demographics", "record": "1"}, "api_export"),
    ({"content": "pdf", "record": "1"}, "api_export"),
    ({"content": "pdf"}, "api_export"),
    ({"content": "record", "type": "eav", "format": "json"}, "api_export"),
    (
        {
            "content": "record",
            "type": "eav",
            "format": "json",
            "data": '[{"record":"9","field_name":"first_name","value":"x"}]',
            "action": "import",
        },
        "api_import",
    ),
    ({"content": "dag", "action": "switch", "dag": ""}, "api_import"),
    ({"content": "metadata", "action": "import", "data": "[]"}, "design"),
]


def state(api: Api) -> tuple[object, ...]:
    """What the refused calls could change, as the project's creator sees it."""
    return (
        api.json(content="fileRepository", action="list"),
        api.json(content="userRole"),
        api.json(content="user"),
        api.json(content="record"),
        api.json(content="metadata"),
    )


@pytest.mark.parametrize(("params", "right"), GUARDED, ids=lambda v: str(v)[:60])
def test_each_method_refuses_a_user_without_its_right_and_changes_nothing(project, params, right):
    everything = {
        name: 1
        for name in (
            "api_export",
            "api_import",
            "file_repository",
            "user_rights",
            "design",
            "manage_survey_participants",
            "data_access_groups",
        )
    }
    username = f"no_{right}"
    user = user_api(project, username, data_export=1, **{**everything, right: 0})
    before = state(project)
    files = {"file": ("x.txt", b"x")} if params.get("action") == "import" else None
    response = user.call(**params, files=files) if files else user.call(**params)
    assert response.status_code == 403, response.text
    assert state(project) == before


HOSTILE = ["0", "-1", "99999999999999999999", "1.5", "1e3", "\x00", "é🙂", "A" * 5000, "[1]"]
#: The new methods and the parameters they read.
NEW_METHODS = {
    ("fileRepository", "createFolder"): ("name", "folder_id", "dag_id", "role_id"),
    ("fileRepository", "list"): ("folder_id",),
    ("fileRepository", "export"): ("doc_id",),
    ("fileRepository", "import"): ("folder_id",),
    ("fileRepository", "delete"): ("doc_id",),
    ("userRole", "import"): ("data",),
    ("userRole", "delete"): ("roles[0]",),
    ("userRoleMapping", "import"): ("data",),
    ("user", "import"): ("data",),
    ("dag", "switch"): ("dag",),
    ("participantList", "export"): ("instrument", "event"),
    ("surveyLink", "export"): ("instrument", "record", "event", "repeat_instance"),
    ("surveyQueueLink", "export"): ("record",),
    ("pdf", "export"): ("record", "instrument", "event", "repeat_instance", "allRecords"),
    ("record", "export"): ("type", "records[0]", "fields[0]"),
}
ROWS = [
    '[{"username": "%s", "unique_role_name": "%s", "role_label": "%s", "expiration": "%s"}]',
]


@pytest.mark.parametrize(("content", "action"), list(NEW_METHODS))
def test_hostile_values_of_every_parameter_are_redcap_errors(project, content, action):
    problems = []
    for name in NEW_METHODS[(content, action)]:
        for value in HOSTILE:
            if name == "data":
                value = ROWS[0] % ((value.replace('"', "").replace("\\", ""),) * 4)
            for fmt in ("json", "csv", "xml"):
                params = {"content": content, "action": action, "format": fmt, name: value}
                if name != "type":
                    params["type"] = "eav" if content == "record" else "flat"
                response = project.call(**params)
                body = response.text
                shaped = response.status_code == 200 or (
                    '"error"' in body if fmt == "json" else "error" in body.lower()
                )
                if response.status_code >= 500 or "Traceback" in body or not shaped:
                    problems.append((name, value[:40], fmt, response.status_code, body[:200]))
    assert not problems
    project.ok(content="version")


def site_project(server) -> Api:
    api = clinical_classic(server, repeating=False)
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    api.import_json(
        "record", [{"record_id": "1", "redcap_data_access_group": "site_b", "first_name": "B"}]
    )
    api.import_json("userRole", [{"role_label": "Any"}])
    return api


ESCAPES = [
    ("user", '[{"username": "%s", "data_access_group": "site_b"}]'),
    (
        "userRoleMapping",
        '[{"username": "%s", "unique_role_name": "%s", "data_access_group": "site_b"}]',
    ),
    ("userDagMapping", '[{"username": "%s", "redcap_data_access_group": "site_b"}]'),
    ("userDagMapping", '[{"username": "%s", "redcap_data_access_group": ""}]'),
]


@pytest.mark.parametrize(("content", "row"), ESCAPES)
def test_a_user_in_a_dag_cannot_leave_it_or_move_others_out(server, content, row):
    """User Rights and Data Access Groups rights manage users; for a user in a DAG they must
    not open a way out of it (REDCap keeps DAG users off its DAG page)."""
    api = site_project(server)
    [role] = [r["unique_role_name"] for r in api.json(content="userRole")]
    rights = {"user_rights": 1, "data_access_groups": 1, "data_export": 1}
    mover = user_api(api, "mover", data_access_group="site_a", **rights)
    before = api.json(content="userDagMapping")
    for username in ("mover", "admin"):
        data = row % ((username, role) if content == "userRoleMapping" else (username,))
        response = mover.call(content=content, action="import", format="json", data=data)
        assert response.status_code == 403, response.text
    assert api.json(content="userDagMapping") == before
    assert mover.json(content="record") == []  # still site_a's records only: none


def test_a_user_in_a_dag_manages_only_its_users_and_no_dags(server):
    api = site_project(server)
    rights = {"user_rights": 1, "data_access_groups": 1, "data_export": 1, "record_delete": 1}
    mover = user_api(api, "mover", data_access_group="site_a", **rights)
    user_api(api, "colleague", data_access_group="site_a")
    user_api(api, "other", data_access_group="site_b")
    dags = api.json(content="dag")
    for params in (
        {"content": "dag", "action": "delete", "dags[0]": "site_b"},
        {"content": "dag", "action": "import", "data": '[{"data_access_group_name": "Mine"}]'},
        {"content": "user", "action": "delete", "users[0]": "other"},
        {"content": "user", "action": "delete", "users[0]": "admin"},
        {"content": "user", "action": "import", "data": '[{"username": "admin", "design": 0}]'},
        {"content": "user", "action": "import", "data": '[{"username": "newcomer"}]'},
    ):
        response = mover.call(format="json", **params)
        assert response.status_code == 403, (params, response.text)
    assert api.json(content="dag") == dags
    assert {"admin", "other"} <= {u["username"] for u in api.json(content="user")}
    assert "newcomer" not in {u["username"] for u in api.json(content="user")}
    # within the DAG, User Rights work as before
    row = {"username": "colleague", "data_access_group": "site_a", "data_export": 2}
    assert mover.import_json("user", [row]) == 1
    new = {"username": "newcomer", "data_access_group": "site_a"}
    assert mover.import_json("user", [new]) == 1


def test_a_user_in_a_dag_sees_only_its_dags_users(server):
    """Export Users gives names, emails and rights: a caller in a DAG gets its own group's
    users only (REDCap's User Rights page shows a DAG user no one else)."""
    api = site_project(server)
    looker = user_api(api, "looker", data_access_group="site_a")
    user_api(api, "colleague", data_access_group="site_a")
    user_api(api, "other", data_access_group="site_b")
    assert {u["username"] for u in looker.json(content="user")} == {"looker", "colleague"}
    assert {"admin", "looker", "colleague", "other"} <= {
        u["username"] for u in api.json(content="user")
    }


def role_named(api: Api, label: str) -> str:
    [name] = [
        r["unique_role_name"] for r in api.json(content="userRole") if r["role_label"] == label
    ]
    return name


def test_a_user_in_a_dag_cannot_change_or_delete_roles_of_users_outside_it(server):
    """A role's rights are its users' rights: changing a role that a user outside the caller's
    DAG is in would change that user's rights, which Import Users refuses (issue 14, item 6)."""
    api = site_project(server)
    api.import_json(
        "userRole",
        [{"role_label": label, "data_export": 0} for label in ("Shared", "SiteB", "Local")]
        + [{"role_label": "Empty"}],
    )
    rights = {"user_rights": 1, "data_export": 1}
    mover = user_api(api, "mover", data_access_group="site_a", **rights)
    for username, dag, label in (
        ("outsider", "", "Shared"),
        ("mate", "site_a", "Shared"),
        ("other", "site_b", "SiteB"),
        ("colleague", "site_a", "Local"),
    ):
        user_api(api, username, data_access_group=dag)
        api.import_json(
            "userRoleMapping", [{"username": username, "unique_role_name": role_named(api, label)}]
        )
    before = (api.json(content="userRole"), api.json(content="user"))
    for label in ("Shared", "SiteB"):
        role = role_named(api, label)
        raise_it = [{"unique_role_name": role, "data_export": 1, "user_rights": 1, "design": 1}]
        response = mover.call(content="userRole", action="import", format="json", data=raise_it)
        assert response.status_code == 403, response.text
        assert role in response.json()["error"]
        response = mover.call(
            content="userRole",
            action="delete",
            format="json",
            **{
                "roles[0]": role_named(api, "Local"),
                "roles[1]": role,
            },
        )
        assert response.status_code == 403, response.text
    assert (api.json(content="userRole"), api.json(content="user")) == before
    # Roles only the caller's DAG's users are in, empty roles and new roles stay the caller's.
    local = role_named(api, "Local")
    assert mover.import_json("userRole", [{"unique_role_name": local, "data_export": 2}]) == 1
    assert mover.import_json("userRole", [{"role_label": "New", "data_export": 2}]) == 1
    assert (
        mover.json(content="userRole", action="delete", **{"roles[0]": role_named(api, "Empty")})
        == 1
    )
    colleague = [u for u in api.json(content="user") if u["username"] == "colleague"]
    assert colleague[0]["forms_export"] == {"demographics": 2, "visit": 2, "adverse_events": 2}


@pytest.mark.parametrize("content", ["userDagMapping", "userRoleMapping", "user"])
def test_user_listings_show_a_dag_caller_only_its_dags_users(server, content):
    """Who is in which DAG and role is about users: a caller in a DAG sees its own DAG's
    users only, in every listing of users, as Export Users does."""
    api = site_project(server)
    role = role_named(api, "Any")
    looker = user_api(api, "looker", data_access_group="site_a", user_rights=1)
    for username, dag in (("colleague", "site_a"), ("other", "site_b"), ("free", "")):
        user_api(api, username, data_access_group=dag)
        api.import_json("userRoleMapping", [{"username": username, "unique_role_name": role}])
    for fmt in ("json", "csv", "xml"):
        body = looker.ok(content=content, format=fmt).text
        for hidden in ("other", "free", "admin", "site_b"):
            assert hidden not in body, (fmt, hidden, body)
        assert "colleague" in body and "looker" in body
    everyone = {u["username"] for u in api.json(content=content)}
    assert {"admin", "looker", "colleague", "other", "free"} <= everyone
