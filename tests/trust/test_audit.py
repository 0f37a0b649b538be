"""The audit log: every data call is recorded (never the token), readable through content=log
and `localcap audit`; tokens can be revoked at once."""

from __future__ import annotations

import json

import requests
from click.testing import CliRunner

from builders import Api, clinical_classic, clinical_longitudinal
from localcap.cli import main
from localcap.db.tokens import create_project_token


def cli_args(server) -> list[str]:
    return [
        "--data-dir",
        str(server.data_dir),
        "--database-url",
        server.engine.url.render_as_string(hide_password=False),
    ]


def test_imports_exports_and_refusals_are_logged_without_the_token(server):
    api = clinical_classic(server)
    api.json(
        content="record",
        action="import",
        data=[{"record_id": "1", "first_name": "Ann"}, {"record_id": "2", "first_name": "Bo"}],
    )
    rows = api.json(content="record")
    assert len(rows) == 2
    api.call(content="record", action="delete", **{"records[0]": "2"})
    refused = api.call(content="metadata", format="json", **{"fields[0]": "nope"})
    assert refused.status_code == 400
    log = api.json(content="log")
    assert api.token not in json.dumps(log)
    actions = [(e["action"], e["record"]) for e in log]
    # REDCap's words, with the record after the action (REDCapR's log-read recording).
    assert ("Create record (API) 1", "1") in actions and ("Create record (API) 2", "2") in actions
    assert ("Delete record (API) 2", "2") in actions
    export = next(
        e
        for e in log
        if e["action"] == "Data export (API)" and e["details"].startswith("export_format: JSON")
    )
    assert "rows: 2" in export["details"]
    assert any("refused (status 400)" in e["details"] for e in log)
    created = next(e for e in log if e["record"] == "1")
    # The "what", as REDCap logs it: the record ID and each value set (the form's status too).
    assert created["details"] == (
        "record_id = '1', first_name = 'Ann', demographics_complete = '0'"
    )
    # Filters: REDCap's logtype, user, record.
    deletes = api.json(content="log", logtype="record_delete")
    assert {e["record"] for e in deletes} == {"2"}
    assert {e["record"] for e in api.json(content="log", record="1")} == {"1"}
    assert api.json(content="log", user="someone_else") == []
    bad = api.call(content="log", format="json", logtype="nonsense")
    assert bad.status_code == 400


def test_report_exports_log_their_id_and_row_count(server):
    api = clinical_classic(server)
    api.json(content="record", action="import", data=[{"record_id": str(i)} for i in range(1, 4)])
    report = api.ok(
        content="report",
        action="import",
        format="json",
        returnContent="ids",
        data=json.dumps([{"title": "ids", "fields": ["record_id"]}]),
    ).json()[0]
    api.ok(content="report", report_id=str(report), format="csv")
    entry = next(e for e in api.json(content="log") if f"report_id: {report}" in e["details"])
    assert entry["action"] == "Data export (API)"
    assert entry["details"] == f"export_format: CSV, rawOrLabel: raw, report_id: {report}, rows: 3"


def test_audit_cli_and_token_revoke(server):
    api = clinical_classic(server)
    api.json(content="instrument")
    runner = CliRunner()
    printed = runner.invoke(main, ["audit", *cli_args(server), "--limit", "5"])
    assert printed.exit_code == 0 and "instrument/export" in printed.output
    assert api.token not in printed.output
    revoked = runner.invoke(main, ["token", "revoke", *cli_args(server), "--token", api.token])
    assert revoked.exit_code == 0, revoked.output
    response = requests.post(
        server.url, data={"token": api.token, "content": "instrument"}, timeout=30
    )
    assert response.status_code == 403
    again = runner.invoke(main, ["token", "revoke", *cli_args(server), "--token", api.token])
    assert again.exit_code != 0


def test_log_needs_the_logging_right(server):
    api = clinical_classic(server)
    api.import_json("user", [{"username": "no_logs", "api_export": 1, "logging": 0}])
    pid = api.json(content="project")["project_id"]
    with server.engine.begin() as conn:
        token = create_project_token(conn, pid, "no_logs")
    response = Api(server, token).call(content="log", format="json")
    assert response.status_code == 403


def test_log_starts_with_the_project_creation(server):
    # PyCap's doctest, recorded from real REDCap: the first entry is the project's creation.
    api = clinical_classic(server)
    first = api.json(content="log")[0]
    assert first["action"] == "Manage/Design "
    assert first["details"].startswith("Create project")


def test_a_record_deleted_from_one_arm_is_logged_as_deleted(server):
    # redcapAPI's purgeProject() deletes records arm by arm, and its changedRecords() (test-801,
    # run against REDCap) then finds them among the "Delete record" lines.
    api = clinical_longitudinal(server)
    api.import_json(
        "record",
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "first_name": "Ann"},
            {"record_id": "2", "redcap_event_name": "baseline_arm_1", "first_name": "Bo"},
            {"record_id": "2", "redcap_event_name": "baseline_arm_2", "first_name": "Bo"},
        ],
    )
    assert (
        api.ok(
            content="record", action="delete", arm="1", **{"records[0]": "1", "records[1]": "2"}
        ).text
        == "2"
    )
    deletes = api.json(content="log", logtype="record_delete")
    assert [(e["action"], e["record"], e["details"]) for e in deletes] == [
        ("Delete record (API) 1", "1", "[arm = 1] record_id = '1'"),
        ("Delete record (API) 2", "2", "[arm = 1] record_id = '2'"),
    ]
    left = api.json(content="record", fields="record_id")
    assert [(r["record_id"], r["redcap_event_name"]) for r in left] == [("2", "baseline_arm_2")]


def test_the_log_dag_filter(server):
    api = clinical_classic(server)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    api.import_json(
        "record",
        [
            {"record_id": "1", "first_name": "Ann", "redcap_data_access_group": "site_a"},
            {"record_id": "2", "first_name": "Bo"},
        ],
    )
    assert {e["record"] for e in api.json(content="log", dag="site_a")} == {"1"}
    # A name that is no DAG of the project filters nothing: redcapAPI's test-800, run against
    # REDCap, gets more than one line for the DAG its test-105 created and deleted.
    everything = api.json(content="log")
    unfiltered = api.json(content="log", dag="temporary_dag")
    assert len(everything) > 2 and unfiltered[: len(everything)] == everything
