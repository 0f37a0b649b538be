"""The audit trail an auditor reads (docs/AUDIT.md): no token in any parameter shape, REDCap's
record-change words with the values changed, every method's entry, entries that cannot be
forged or bloated, CLI commands, survey codes and invalid tokens logged."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from builders import Api, clinical_classic, project_id, user_api
from liveserver import free_port, new_super_token, start_server
from localcap.api.routes import ROUTES
from localcap.cli import main
from localcap.db import schema as t
from localcap.model.audit import DESCRIPTIONS
from localcap.surveys.returning import MAX_FAILURES
from surveys.survey_helpers import (
    csrf_of,
    link_for,
    open_form,
    post_page,
    save_for_later,
    survey_project,
    surveys_url,
)


def cli_args(server) -> list[str]:
    return [
        "--data-dir",
        str(server.data_dir),
        "--database-url",
        server.engine.url.render_as_string(hide_password=False),
    ]


def run_cli(server, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, *cli_args(server)])
    assert result.exit_code == 0, result.output
    return result.output


def audit_cli(server, pid: int, limit: int = 1000) -> str:
    return run_cli(server, "audit", "--project", str(pid), "--limit", str(limit))


def everything_readable(api: Api) -> str:
    """The log in every format Export Logging offers, plus `localcap audit`'s print-out."""
    texts = [api.ok(content="log", format=fmt).text for fmt in ("json", "csv", "xml")]
    texts.append(audit_cli(api.server, project_id(api)))
    return "\n".join(texts)


def test_no_token_in_any_parameter_shape(server):
    api = clinical_classic(server)
    other = user_api(api, "other_user", logging=1)  # a second valid token of the project
    token = api.token
    url = server.url
    shapes = [
        # (form fields as a list of pairs, in the order sent)
        [("token", token), ("token", token), ("content", "record"), ("format", "json")],
        [("token", token), ("token", other.token), ("content", "record"), ("format", "json")],
        [("token", token), ("token[0]", other.token), ("content", "instrument")],
        [("token", token), ("token[]", other.token), ("content", "instrument")],
        [("token", token), ("TOKEN", other.token), ("Token[1]", other.token), ("content", "arm")],
        [("token", token), (" token ", other.token), ("content", "instrument")],
        [("token", token), ("content", "record"), ("data", other.token), ("data", "[]")],
        [("token", token), ("content", "instrument"), ("fields[0]", other.token)],
        [("token", other.token.lower()), ("content", "instrument")],
    ]
    answers = []
    for pairs in shapes:
        answers.append(requests.post(url, data=pairs, timeout=30))
    # multipart, as redcapAPI sends, with the token twice and once as a file part
    answers.append(
        requests.post(
            url,
            files=[
                ("token", (None, token)),
                ("token", (None, other.token)),
                ("content", (None, "instrument")),
                ("token[0]", ("t.txt", other.token.encode())),
            ],
            timeout=30,
        )
    )
    # in the URL (localcap reads the body only: the call fails, but the URL was sent)
    answers.append(requests.post(f"{url}?token={other.token}", data={"content": "x"}, timeout=30))
    for answer in answers:
        assert token not in answer.text and other.token not in answer.text
        assert token.lower() not in answer.text.lower()
    readable = everything_readable(api).lower()
    assert token.lower() not in readable and other.token.lower() not in readable
    with server.engine.connect() as conn:
        stored = " ".join(
            " ".join(str(v) for v in row) for row in conn.execute(select(t.audit_log))
        ).lower()
    assert token.lower() not in stored and other.token.lower() not in stored
    # a repeated `data` is PHP's last one (`[]`), kept as a size, not its text
    assert '"data":"<2 characters>"' in stored


def test_server_log_lines_carry_no_token(tmp_path: Path):
    """`localcap serve` as users run it: its access and error lines never print a token."""
    token = new_super_token(tmp_path)
    port = free_port()
    log_file = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("localcap")),
            "serve",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.post(url, data={}, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        requests.post(f"{url}?token={token}&content=version", timeout=10)
        requests.post(f"{url}?TOKEN%5B0%5D={token.lower()}", timeout=10)
        requests.post(url, data={"token": token, "content": "version"}, timeout=10)
        requests.post(f"{url}?x=%0a{token}", timeout=10)  # a line break to forge a line
    finally:
        process.terminate()
        process.wait(timeout=20)
        log_file.close()
    printed = (tmp_path / "server.log").read_text()
    # the access lines are there (localcap's JSON lines: no query string at all), the token not
    assert printed.count('"method":"POST","path":"/api/"') >= 4
    assert token not in printed and token.lower() not in printed
    assert "%0a" not in printed.lower() or "\n" + token not in printed


def test_records_created_and_updated_in_redcap_words(server):
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": "1", "first_name": "Ann", "race___2": "1"}])
    api.import_json("record", [{"record_id": "1", "first_name": "Bo", "race___2": "0"}])
    api.import_json(
        "record",
        [
            {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": "2",
                "ae_term": "Rash",
            }
        ],
    )
    api.import_json("record", [{"record_id": "1", "first_name": "Bo"}])  # no change: no line
    log = [e for e in api.json(content="log") if e["record"] == "1"]
    assert [(e["action"], e["details"]) for e in log] == [
        (
            "Create record (API) 1",
            "record_id = '1', first_name = 'Ann', race(2) = checked, demographics_complete = '0'",
        ),
        ("Update record (API) 1", "first_name = 'Bo', race(2) = unchecked"),
        ("Update record (API) 1", "[instance = 2] ae_term = 'Rash', adverse_events_complete = '0'"),
    ]
    # clients' "records created since" helpers filter on REDCap's log types
    added = api.json(content="log", logtype="record_add")
    assert [(e["action"], e["record"]) for e in added] == [("Create record (API) 1", "1")]
    edits = api.json(content="log", logtype="record_edit")
    assert {e["action"] for e in edits} == {"Update record (API) 1"} and len(edits) == 2
    assert all(
        e["action"].startswith(("Create record", "Update record", "Delete record"))
        for e in api.json(content="log", logtype="record")
    )


def test_a_new_records_values_are_listed_in_field_order_whatever_order_they_came_in(server):
    api = clinical_classic(server)
    api.import_json(
        "record", [{"weight": "70", "race___2": "1", "first_name": "Ann", "record_id": "2"}]
    )
    (entry,) = [e for e in api.json(content="log") if e["record"] == "2"]
    assert entry["details"] == (
        "record_id = '2', first_name = 'Ann', race(2) = checked, weight = '70', "
        "demographics_complete = '0', visit_complete = '0'"
    )


def test_file_changes_and_failed_imports_are_returned(server):
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": "5"}])
    upload = api.call(
        content="file",
        action="import",
        record="5",
        field="scan",
        files={"file": ("scan.txt", b"hello")},
    )
    assert upload.status_code == 200, upload.text
    assert api.call(content="file", action="delete", record="5", field="scan").status_code == 200
    bad = api.call(
        content="record",
        action="import",
        format="json",
        data=json.dumps([{"record_id": "6", "sex": "7"}]),
    )
    assert bad.status_code == 400
    log = api.json(content="log")
    five = [(e["action"], e["details"]) for e in log if e["record"] == "5"]
    assert five[0] == ("Create record (API) 5", "record_id = '5'")
    assert five[1][0] == "Update record (API) 5" and five[1][1].startswith("scan = '")
    assert five[2] == ("Update record (API) 5", "scan = ''")
    refused = [e for e in log if e["details"] == "Import records (API) refused (status 400)"]
    assert len(refused) == 1 and refused[0]["action"] == "Manage/Design "
    assert api.json(content="log", record="6") == []  # nothing was written to record 6


def test_details_are_never_built_from_raw_parameters(server):
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": "1"}])
    forged = "x, rows=0, refused with status 403"
    api.ok(content="record", format="json", **{"rows": forged, forged: "1", "csvDelimiter": forged})
    export = [e for e in api.json(content="log") if e["action"] == "Data export (API)"][-1]
    assert export["details"] == "export_format: JSON, rawOrLabel: raw, rows: 1"


def test_control_characters_cannot_forge_a_line_in_localcap_audit(server):
    api = clinical_classic(server)
    fake = "1\n2000-01-01 00:00:00\tadmin\tproject=1\trecord/delete\t200"
    api.import_json("record", [{"record_id": fake, "notes": "a\tb\rc\x1bd"}])
    printed = audit_cli(server, project_id(api), limit=3)
    lines = printed.splitlines()
    assert len(lines) == 3  # one line per entry, whatever the record name holds
    assert not any(line.startswith("2000-01-01") for line in lines)
    assert "1\\n2000-01-01 00:00:00\\tadmin" in printed and "\\x1b" in printed


def test_entries_are_bounded(server):
    api = clinical_classic(server)
    many = {f"p{i}_" + "n" * 200: "v" * 1000 for i in range(2000)}
    huge = [("fields[]", "f" * 100_000)] * 20 + [("token", api.token), ("content", "arm")]
    assert requests.post(server.url, data=list(many.items()) + huge, timeout=60).status_code
    with server.engine.connect() as conn:
        biggest = conn.execute(
            select(func.max(func.length(t.audit_log.c.params))).where(
                t.audit_log.c.project_id == project_id(api)
            )
        ).scalar_one()
    assert biggest < 30_000  # the request was about 6 MB


def test_users_roles_and_dags_log_who_and_which_rights(server):
    api = clinical_classic(server)
    api.import_json("user", [{"username": "bob", "design": 1, "api_export": 1}])
    api.import_json("user", [{"username": "bob", "design": 0}])
    api.import_json("userRole", [{"role_label": "Monitors", "data_export": 2}])
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    api.import_json("userDagMapping", [{"username": "bob", "redcap_data_access_group": "site_a"}])
    log = api.json(content="log", logtype="user")
    by_action = {e["action"]: e["details"] for e in log}
    assert "user = 'bob'" in by_action["Add user bob"]
    assert "design = '1'" in by_action["Add user bob"]
    assert "design = '0'" in by_action["Edit user bob"]
    assert "role = 'Monitors'" in by_action["Add user role"]
    assert (
        "redcap_data_access_group = 'site_a'" in by_action["Assign user bob to data access group"]
    )
    created = [
        e
        for e in api.json(content="log", logtype="manage")
        if e["action"] == "Create data access group"
    ]
    assert created and "unique_group_name = 'site_a'" in created[0]["details"]


def test_cli_commands_are_logged(server):
    api = clinical_classic(server)
    pid = str(project_id(api))
    api.import_json("user", [{"username": "carol"}])
    api.import_json("dag", [{"data_access_group_name": "North", "unique_group_name": ""}])
    minted = run_cli(server, "token", "create", "--project", pid, "--username", "carol").strip()
    run_cli(server, "token", "revoke", "--token", minted)
    run_cli(server, "dag", "allow-switch", "--project", pid, "--user", "carol", "--dag", "north")
    run_cli(
        server, "survey", "enable", "--project", pid, "--instrument", "visit", "--save-and-return"
    )
    run_cli(server, "survey", "disable", "--project", pid, "--instrument", "visit")
    details = [e["details"] for e in api.json(content="log", logtype="manage")]
    assert "Create API token for user carol" in details
    assert "Revoke API token of user carol" in details
    assert "DAG Switcher: user carol may switch between: north" in details
    assert "Enable survey visit: save_and_return = '1'" in details
    assert "Disable survey visit" in details
    assert minted not in everything_readable(api)
    assert "[command line: " in audit_cli(server, int(pid))


def test_survey_codes_are_logged(server):
    api = survey_project(server, "--save-and-return")
    link = link_for(api)
    save_for_later(link, full_name="Ada")
    code = api.ok(content="surveyReturnCode", record="1", instrument="intake").text
    for typed in ("WRONG123", code):
        session, page, _ = open_form(link)
        post_page(session, link, page, return_code=typed, begin="1")
    access = api.ok(content="surveyAccessCode", record="1", instrument="intake").text
    for typed in ("ZZZZZZZZZ", access):
        session = requests.Session()
        token = csrf_of(session.get(surveys_url(server), timeout=30).text)
        session.post(surveys_url(server), data={"csrf": token, "code": typed}, timeout=30)
    details = [
        e["details"] for e in api.json(content="log") if e["username"] == "[survey respondent]"
    ]
    where = "record 1, instrument intake, instance 1"
    assert f"Wrong survey return code entered ({where})" in details
    assert f"Survey response reopened with its return code ({where})" in details
    assert f"Survey access code used ({where})" in details
    assert code not in json.dumps(details)
    # a wrong access code names no project: `localcap audit` shows it with the address
    assert "Wrong survey access code entered" in run_cli(server, "audit", "--limit", "50")


def test_invalid_token_calls_are_logged(server):
    before = run_cli(server, "audit", "--limit", "5000").count("[invalid token]")
    guess = secrets.token_hex(16).upper()  # token-shaped, and in no other test's entries
    for bad in ("0000", guess, "x\nforged line"):
        requests.post(server.url, data={"token": bad, "content": "record"}, timeout=30)
    printed = run_cli(server, "audit", "--limit", "5000")
    assert printed.count("[invalid token]") == before + 3
    assert "127.0.0.1" in printed and guess not in printed


def test_invalid_token_calls_are_limited_per_address(tmp_path: Path):
    live = start_server(tmp_path, None, "sqlite", invalid_token_attempts=5)
    try:
        codes = [
            requests.post(live.url, data={"token": f"{i:032X}"}, timeout=30).status_code
            for i in range(40)
        ]
        with live.engine.connect() as conn:
            logged = conn.execute(
                select(func.count()).where(t.audit_log.c.username == "[invalid token]")
            ).scalar_one()
    finally:
        live.stop()
    assert codes[:5] == [403] * 5 and set(codes[5:]) == {429}
    assert logged == 5


def test_big_bodies_with_invalid_tokens_are_logged_and_limited(tmp_path: Path):
    """A body over the in-memory size has its token checked before the rest is parsed
    (api/request.py): that early refusal is logged and counted like any invalid token."""
    live = start_server(tmp_path, None, "sqlite", invalid_token_attempts=3)
    big = "x" * (2 << 20)
    try:
        codes = [
            requests.post(
                live.url, data={"token": f"{i:032X}", "content": "record", "data": big}, timeout=30
            ).status_code
            for i in range(5)
        ]
        with live.engine.connect() as conn:
            logged = (
                conn.execute(
                    select(t.audit_log.c.content).where(t.audit_log.c.username == "[invalid token]")
                )
                .scalars()
                .all()
            )
    finally:
        live.stop()
    assert codes == [403] * 3 + [429] * 2
    assert logged == ["record"] * 3


def _minimal_call(api: Api, content: str, action: str) -> requests.Response:
    params: dict[str, str] = {"content": content, "format": "json"}
    if action:
        params["action"] = action
    if content == "record" and action == "import":
        params["data"] = json.dumps([{"record_id": "7", "first_name": "Zed"}])
    if content == "record" and action == "rename":
        params.update(record="7", new_record_name="8")
    if content == "record" and action == "delete":
        params["records[0]"] = "8"
    return api.call(**params)


def test_every_registered_method_has_a_logged_entry(server):
    """Table-driven over api.routes.ROUTES: a new method cannot be left out of the log."""
    api = clinical_classic(server)
    pid = project_id(api)
    assert set(ROUTES) <= set(DESCRIPTIONS)
    with server.engine.connect() as conn:
        start = conn.execute(select(func.max(t.audit_log.c.log_id))).scalar_one()
    sent = []
    last = [("record", "import"), ("record", "rename"), ("record", "delete")]
    for content, action in sorted(set(ROUTES) - set(last)) + last:
        answer = _minimal_call(api, content, action)
        if content == "log":
            continue  # the log's own export is checked below, with the rest
        sent.append((content, action or "export", answer.status_code))
    with server.engine.connect() as conn:
        stored = [
            (r.content, r.action, r.status)
            for r in conn.execute(
                select(t.audit_log)
                .where(t.audit_log.c.log_id > start)
                .order_by(t.audit_log.c.log_id)
            )
        ]
    assert [s for s in stored if s[0] != "log"] == sent
    assert all(r_pid == pid for (r_pid,) in [(pid,)])
    log = api.json(content="log")
    texts = [e["action"] + " | " + e["details"] for e in log]
    for content, action, status in sent:
        words = DESCRIPTIONS[(content, action)]
        if 200 <= status < 300:
            if words == "Data export (API)":
                assert any(t_.startswith("Data export (API) | export_format") for t_ in texts)
            elif (content, action) not in {
                ("record", "import"),
                ("record", "rename"),
                ("record", "delete"),
                ("file", "import"),
                ("file", "delete"),
            }:
                assert any(words in t_ for t_ in texts), (content, action)
        else:
            assert f"Manage/Design  | {words} refused (status {status})" in texts, (
                content,
                action,
            )
    assert any(e["action"] == "Create record (API) 7" for e in log)
    assert any(e["action"].startswith("Update record (API) 8") for e in log)
    assert any(e["action"] == "Delete record (API) 8" for e in log)


@pytest.mark.parametrize("value", ["2024-13-01 00:00", "yesterday", "1' OR '1'='1"])
def test_log_time_filters_are_checked(server, value):
    api = clinical_classic(server)
    answer = api.call(content="log", format="json", beginTime=value)
    assert answer.status_code == 400
    assert "beginTime" in answer.text


def test_the_log_hides_values_the_reader_may_not_export(server):
    api = clinical_classic(server)
    api.import_json(
        "record", [{"record_id": "1", "first_name": "Annabel", "notes": "FREE", "weight": "70"}]
    )
    reader = user_api(api, "deid_reader", logging=1, data_export=2)
    [created] = [e for e in reader.json(content="log") if e["record"] == "1"]
    assert "Annabel" not in created["details"] and "FREE" not in created["details"]
    assert "first_name = [hidden]" in created["details"] and "weight = '70'" in created["details"]
    # a Full Data Set reader sees every value, and `localcap audit` (the operator) does too
    assert "first_name = 'Annabel'" in json.dumps(api.json(content="log"))
    assert "first_name = 'Annabel'" in audit_cli(server, project_id(api))


def test_errors_do_not_quote_a_token_back(server):
    api = clinical_classic(server)
    other = user_api(api, "pasted_user")
    hashed = "0123456789abcdef0123456789abcdef"  # token-shaped, but nobody's token
    for value in (other.token, other.token.lower(), "00" + other.token, hashed):
        answer = api.call(content="record", format="json", **{"fields[0]": value})
        assert answer.status_code == 400
        assert other.token.lower() not in answer.text.lower()
        assert ("[redacted]" in answer.text) == (value != hashed), answer.text


def test_hostile_names_and_values_are_stored_on_every_backend(server):
    """Refusals are logged too: a NUL or an over-long content/action must be stored
    (PostgreSQL refuses NULs and values wider than a column), never a 500."""
    api = clinical_classic(server)
    hostile = [
        {"content": "x" * 300},
        {"content": "record", "action": "y" * 300},
        {"content": "rec\x00ord"},
        {"content": "record", "fields[0]": "a\x00b"},
        {"content": "record", "n\x00ame": "1"},
    ]
    for params in hostile:
        assert api.call(format="json", **params).status_code == 400, params
    bad = requests.post(server.url, data={"token": "z" * 500, "content": "\x00" * 100}, timeout=30)
    assert bad.status_code == 403
    printed = audit_cli(server, project_id(api), limit=10)
    assert "\x00" not in printed and "rec\ufffdord" in printed


def test_a_locked_response_cannot_flood_the_log(server):
    api = survey_project(server, "--save-and-return")
    link = link_for(api)
    save_for_later(link, full_name="Ada")
    for _ in range(MAX_FAILURES + 10):
        session, page, _ = open_form(link)
        post_page(session, link, page, return_code="WRONG123", begin="1")
    wrong = [e for e in api.json(content="log") if e["details"].startswith("Wrong survey")]
    assert len(wrong) == MAX_FAILURES  # then the response is locked, and nothing more logged
