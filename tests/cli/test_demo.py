"""`localcap serve --demo`: the demo project is created once, and its tokens work at once."""

from __future__ import annotations

import json
import re

import requests
from sqlalchemy import func, select

from localcap.db import schema as t
from localcap.demo import DEMO_TITLE, ensure_demo


def demo_tokens(server) -> dict[str, str]:
    lines = list(ensure_demo(server.engine, server.url))
    return {m[1]: m[2] for line in lines if (m := re.match(r"\s+(\w+)\s+([0-9A-F]{32})", line))}


def post(server, token: str, **params: str) -> requests.Response:
    return requests.post(server.url, data={"token": token, **params}, timeout=30)


def test_demo_is_created_once_with_users_of_every_kind(server):
    tokens = demo_tokens(server)
    tokens = demo_tokens(server)  # a second start reuses the project, with fresh tokens
    with server.engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(t.projects)
            .where(t.projects.c.project_title == DEMO_TITLE)
        ).scalar()
    assert count == 1
    assert set(tokens) == {
        "alice_full",
        "bob_deidentified",
        "carol_no_identifiers",
        "dave_site_a",
        "erin_no_export",
    }
    full = post(server, tokens["alice_full"], content="record", format="json").json()
    assert len({r["record_id"] for r in full}) >= 30
    assert {r["redcap_repeat_instrument"] for r in full} >= {"", "adverse_event"}
    assert any(r["name"] for r in full)
    info = post(server, tokens["alice_full"], content="project", format="json").json()
    assert info["is_longitudinal"] == 1
    assert len(post(server, tokens["alice_full"], content="arm", format="json").json()) == 2
    assert len(post(server, tokens["alice_full"], content="dag", format="json").json()) == 2
    deidentified = post(server, tokens["bob_deidentified"], content="record", format="json").json()
    assert "name" not in deidentified[0] and "dob" not in deidentified[0]
    site_a = post(
        server,
        tokens["dave_site_a"],
        content="record",
        format="json",
        exportDataAccessGroups="true",
    ).json()
    assert {int(r["record_id"]) % 2 for r in site_a} == {1}
    assert "redcap_data_access_group" not in site_a[0]
    refused = post(server, tokens["erin_no_export"], content="record", format="json")
    assert refused.status_code == 403
    reports = {
        r["title"]: r["report_id"]
        for r in post(
            server, tokens["alice_full"], content="report", action="list", format="json"
        ).json()
    }
    severe = post(
        server,
        tokens["alice_full"],
        content="report",
        format="json",
        report_id=str(reports["Moderate or severe adverse events"]),
    ).json()
    assert severe and all(r["ae_severity"] in ("2", "3") for r in severe)
    assert [r["ae_severity"] for r in severe] == sorted(
        (r["ae_severity"] for r in severe), reverse=True
    )


RESTRICTED = ("bob_deidentified", "carol_no_identifiers", "dave_site_a", "erin_no_export")
FORMS = ("enrolment", "visit", "adverse_event")


def raising_imports(server, owner: str, me: str) -> list[dict[str, str]]:
    """Every import by which a user could widen what it may export: its own rights, a role
    it then joins, its DAG (leaving it, deleting it), the identifier flags, DAG switching."""
    everything = {name: 1 for name in ("user_rights", "design", "data_access_groups")}
    full = {"data_export": 1, "forms_export": {f: 1 for f in FORMS}, **everything}
    dictionary = post(server, owner, content="metadata", format="json").json()
    for row in dictionary:
        row["identifier"] = ""
    return [
        {
            "content": "user",
            "data": json.dumps([{"username": me, "data_access_group": "", **full}]),
        },
        {"content": "userRole", "data": json.dumps([{"role_label": "Mine", **full}])},
        {
            "content": "userRoleMapping",
            "data": json.dumps([{"username": me, "unique_role_name": "U-1"}]),
        },
        {
            "content": "userDagMapping",
            "data": json.dumps([{"username": me, "redcap_data_access_group": ""}]),
        },
        {
            "content": "dag",
            "data": json.dumps([{"data_access_group_name": "All", "unique_group_name": ""}]),
        },
        {"content": "metadata", "data": json.dumps(dictionary)},
        {
            "content": "report",
            "data": json.dumps({"title": "x", "fields": ["record_id", "name", "dob"]}),
        },
        {"content": "project_settings", "data": json.dumps({"project_title": "mine"})},
        {"content": "dag", "action": "delete", "dags[0]": "site_a"},
        {"content": "dag", "action": "switch", "dag": ""},
    ]


def test_no_restricted_demo_user_can_raise_its_rights_by_any_import(server):
    """Issue 14, item 16: every demo user but the owner has exactly what its name says."""
    tokens = demo_tokens(server)
    owner = tokens["alice_full"]

    def state() -> tuple[object, ...]:
        return (
            post(server, owner, content="user", format="json").json(),
            post(server, owner, content="metadata", format="json").json(),
            post(server, owner, content="dag", format="json").json(),
            post(server, owner, content="userRole", format="json").json(),
            post(server, owner, content="project", format="json").json(),
        )

    before = state()
    rights = {u["username"]: u for u in before[0]}
    for me in RESTRICTED:
        assert (rights[me]["user_rights"], rights[me]["design"]) == (0, 0), rights[me]
        assert rights[me]["data_access_groups"] == 0
        seen = post(server, tokens[me], content="record", format="json").text
        for params in raising_imports(server, owner, me):
            params = {"action": "import", "format": "json", **params}
            response = post(server, tokens[me], **params)
            assert response.status_code in (400, 403), (me, params["content"], response.text)
        assert post(server, tokens[me], content="record", format="json").text == seen, me
        assert state() == before, me
    levels = {me: rights[me]["forms_export"] for me in rights if me in tokens}
    assert levels["bob_deidentified"] == dict.fromkeys(FORMS, 2)
    assert levels["carol_no_identifiers"] == dict.fromkeys(FORMS, 3)
    assert levels["erin_no_export"] == dict.fromkeys(FORMS, 0)
    assert levels["dave_site_a"] == dict.fromkeys(FORMS, 1)
    assert rights["dave_site_a"]["data_access_group"] == "site_a"
    assert rights["alice_full"]["user_rights"] == 1  # the owner manages the project
    # A demo project made by an older localcap (everyone had User Rights) is put right on
    # the next start.
    grant = [{"username": "bob_deidentified", "user_rights": 1, "design": 1}]
    post(server, owner, content="user", action="import", format="json", data=json.dumps(grant))
    owner = demo_tokens(server)["alice_full"]
    bob = [
        u
        for u in post(server, owner, content="user", format="json").json()
        if u["username"] == "bob_deidentified"
    ]
    assert (bob[0]["user_rights"], bob[0]["design"]) == (0, 0)
