"""No forbidden value, record or file leaks through any method, for any rights level or DAG.

Values carry markers: IDENT (identifier fields), FREETEXT (unvalidated text and notes, removed
under De-Identified), 1901-02-03 (an identifier date), SITEB (records of the other DAG). Every
export method, in every format, is asked by users of every export level, in and out of a DAG.
"""

from __future__ import annotations

import json

import pytest

from builders import Api, clinical_classic
from localcap.db.tokens import create_project_token

LEVELS = {"full": 1, "deidentified": 2, "no_identifiers": 3, "no_access": 0}


@pytest.fixture(scope="module")
def project(server) -> tuple[Api, dict[str, Api]]:
    api = clinical_classic(server, repeating=False)
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    rows = []
    for n, site in ((1, "site_a"), (2, "site_a"), (3, "site_b")):
        marker = "SITEB" if site == "site_b" else "SITEA"
        rows.append(
            {
                "record_id": str(n),
                "redcap_data_access_group": site,
                "first_name": f"IDENT{marker}{n}",
                "dob": "1901-02-03",
                "notes": f"FREETEXT{marker}{n}",
                "email": f"ok{marker}{n}@example.org",
                "sex": "1",
                "weight": "70",
            }
        )
    api.json(content="record", action="import", data=rows)
    for n in (1, 3):
        api.ok(
            content="file",
            action="import",
            record=str(n),
            field="scan",
            files={"file": (f"scan{n}.txt", f"FILE{'SITEB' if n == 3 else 'SITEA'}{n}".encode())},
        )
    api.ok(
        content="report",
        action="import",
        format="json",
        data=json.dumps(
            [
                {
                    "title": "everything",
                    "fields": ["record_id", "first_name", "dob", "notes", "email", "sex", "scan"],
                    "output_dags": True,
                }
            ]
        ),
    )
    pid = api.json(content="project")["project_id"]
    users: dict[str, Api] = {}
    for name, level in LEVELS.items():
        for dag in ("", "site_a"):
            username = f"{name}_{dag or 'all'}"
            api.import_json(
                "user",
                [
                    {
                        "username": username,
                        "api_export": 1,
                        "logging": 1,
                        "data_export": level,
                        "data_access_group": dag,
                    }
                ],
            )
            with api.server.engine.begin() as conn:
                users[username] = Api(api.server, create_project_token(conn, pid, username))
    return api, users


def exports(user: Api) -> list[tuple[str, int, str]]:
    """(what, status, body) of every export a client can ask for."""
    out = []
    for fmt in ("json", "csv", "xml"):
        r = user.call(content="record", format=fmt, exportDataAccessGroups="true")
        out.append((f"record/{fmt}", r.status_code, r.text))
        r = user.call(content="record", format=fmt, rawOrLabel="label")
        out.append((f"record-label/{fmt}", r.status_code, r.text))
    for fmt in ("json", "csv", "xml", "odm"):
        r = user.call(content="report", report_id=str(report_of(user)), format=fmt)
        out.append((f"report/{fmt}", r.status_code, r.text))
    r = user.call(
        content="project_xml",
        returnMetadataOnly="false",
        exportFiles="true",
        exportDataAccessGroups="true",
    )
    out.append(("project_xml", r.status_code, r.text))
    r = user.call(content="log", format="json")
    out.append(("log", r.status_code, r.text))
    for record in ("1", "3"):
        r = user.call(content="file", action="export", record=record, field="scan")
        out.append((f"file/{record}", r.status_code, r.content.decode("latin-1")))
    return out


_REPORTS: dict[str, int] = {}


def report_of(user: Api) -> int:
    key = user.server.url
    if key not in _REPORTS:
        listing = user.call(content="report", action="list", format="json")
        _REPORTS[key] = listing.json()[0]["report_id"] if listing.status_code == 200 else 0
    return _REPORTS[key]


@pytest.mark.parametrize("username", [f"{n}_{d}" for n in LEVELS for d in ("all", "site_a")])
def test_no_forbidden_value_reaches_any_export(project, username):
    _, users = project
    user = users[username]
    in_dag = username.endswith("_site_a")
    level = username.removesuffix("_site_a" if in_dag else "_all")
    for what, status, body in exports(user):
        if level == "no_access" and not what.startswith("log"):
            assert status == 403, (what, status, body[:200])
            continue
        assert status < 500, (what, body[:300])
        if what == "record/json":  # the markers are really there for those allowed to see them
            assert "okSITEA1" in body
            assert ("IDENTSITEA1" in body) == (level == "full")
            assert ("SITEB" in body) == (not in_dag)
        if level in ("deidentified", "no_identifiers"):
            assert "IDENT" not in body, (username, what)
            assert "1901-02-03" not in body, (username, what)
        if level == "deidentified":
            assert "FREETEXT" not in body, (username, what)
        if in_dag:
            assert "SITEB" not in body, (username, what)
            if what == "file/3":
                assert status == 400, (username, "another DAG's record must look absent", body)
    # The token never appears in what the server says about the calls.
    log = user.call(content="log", format="json").text
    assert user.token not in log and user.token.lower() not in log
