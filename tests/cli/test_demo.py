"""`localcap serve --demo`: the demo project is created once, and its tokens work at once."""

from __future__ import annotations

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
