"""Rights on Export Reports: export levels per instrument, DAGs, report access, errors; report
import validation, the report list, and the ``localcap report`` CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from report_helpers import CLASSIC_REPORTS, DICTIONARY, csv_table

from builders import Api, create_project
from localcap.cli import main
from localcap.db.tokens import create_project_token

NO_ACCESS = (
    'The API request cannot complete because currently you have "No Access" data export '
    "rights. Higher level data export rights are required for this operation."
)
AUTO = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance"]
CHECKBOXES = ["race___1", "race___2", "race___3", "race___98"]


def not_in_project(report_id: str) -> str:
    return (
        f"The API request cannot complete because report_id={report_id} does not belong to "
        "this project."
    )


# -- export levels ----------------------------------------------------------------------------
def test_full_data_set_sees_everything(classic):
    assert classic.json("all", user="full") == classic.json("all")


def test_no_access_is_403_in_every_format(classic):
    response = classic.export("all", user="noaccess", format="json")
    assert response.status_code == 403
    assert response.json() == {"error": NO_ACCESS}
    response = classic.export("all", user="noaccess", format="csv")
    assert (response.status_code, response.text) == (403, f"ERROR: {NO_ACCESS}")
    response = classic.export("all", user="noaccess")
    assert response.status_code == 403
    assert response.text == (
        f'<?xml version="1.0" encoding="UTF-8" ?><hash><error>{NO_ACCESS}</error></hash>'
    )
    assert response.headers["content-type"] == "text/xml; charset=utf-8"


def test_no_access_on_every_instrument_of_the_report(classic):
    # "mixed" has No Access on adverse_events only: a report of AE fields alone is refused.
    response = classic.export("ae_only", user="mixed", format="json")
    assert response.status_code == 403
    assert response.json() == {"error": NO_ACCESS}


def test_de_identified(classic):
    rows = classic.json("all", user="deid")
    # Gone: identifiers (first_name, dob), unvalidated text (comment, ae_term), notes, and
    # dates (visit_date: localcap's documented choice). Kept: validated text (email),
    # choices, checkboxes, numbers, calc, true/false, file, form status.
    assert list(rows[0]) == [
        *AUTO,
        "email",
        "sex",
        *CHECKBOXES,
        "consent",
        "demographics_complete",
        "weight",
        "height",
        "temp",
        "score",
        "bmi",
        "visit_ok",
        "scan",
        "visit_complete",
        "ae_grade",
        "adverse_events_complete",
    ]
    assert [(r["record_id"], r["redcap_repeat_instance"], r["ae_grade"]) for r in rows] == [
        ("1", "", ""),
        ("1", 1, "2"),
        ("1", 2, "3"),
        ("2", "", ""),
        ("2", 1, "1"),
        ("10", "", ""),
    ]
    text = classic.csv("all", user="deid")
    for secret in ("Ann", "1980-01-02", "line1", "say", "2024-01-10", "Rash", "has, comma"):
        assert secret not in text


def test_remove_identifiers(classic):
    rows = classic.json("all", user="noid")
    assert list(rows[0]) == [
        *AUTO,
        "email",
        "sex",
        *CHECKBOXES,
        "consent",
        "notes",
        "comment",
        "demographics_complete",
        "visit_date",
        "weight",
        "height",
        "temp",
        "score",
        "bmi",
        "visit_ok",
        "scan",
        "visit_complete",
        "ae_term",
        "ae_grade",
        "adverse_events_complete",
    ]
    assert rows[0]["visit_date"] == "2024-01-10" and rows[1]["ae_term"] == "Rash"
    for fmt in ("csv", "json", "xml", "odm"):
        text = classic.export("all", user="noid", format=fmt).text
        assert "Ann" not in text and "1980-01-02" not in text, fmt


def test_per_instrument_levels(classic):
    # demographics De-Identified, visit Full, adverse_events No Access.
    rows = classic.json("all", user="mixed")
    assert list(rows[0]) == [
        *AUTO,
        "email",
        "sex",
        *CHECKBOXES,
        "consent",
        "demographics_complete",
        "visit_date",
        "weight",
        "height",
        "temp",
        "score",
        "bmi",
        "visit_ok",
        "scan",
        "visit_complete",
    ]
    # The AE rows had only No Access fields: they are gone.
    assert [r["record_id"] for r in rows] == ["1", "2", "10"]
    assert rows[0]["visit_date"] == "2024-01-10"


def test_label_headers_follow_removal(classic):
    header = csv_table(classic.csv("reordered", user="noid", rawOrLabelHeaders="label"))[0]
    assert header == ["Record ID", "Repeat Instrument", "Repeat Instance", "Weight (kg)", "Sex"]


def test_without_api_export(classic):
    classic.api.import_json("user", [{"username": "noapi", "api_export": 0, "data_export": 1}])
    with classic.api.server.engine.begin() as conn:
        token = create_project_token(conn, classic.project_id, "noapi")
    response = Api(classic.api.server, token).call(
        content="report", report_id=str(classic.reports["all"]), format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"error": "You do not have API Export privileges"}


# -- DAGs -------------------------------------------------------------------------------------
def test_dag_user_sees_only_their_records(classic):
    rows = classic.json("all", user="site_a_user")
    assert [(r["record_id"], r["redcap_repeat_instance"]) for r in rows] == [
        ("1", ""),
        ("1", 1),
        ("1", 2),
    ]
    rows = classic.json("all", user="site_b_user")
    assert [(r["record_id"], r["redcap_repeat_instance"]) for r in rows] == [("2", ""), ("2", 1)]


def test_dag_user_gets_no_dag_column(classic):
    rows = classic.json("combined", user="site_b_user")
    assert rows == [
        {
            "record_id": "2",
            "redcap_repeat_instrument": "",
            "redcap_repeat_instance": "",
            "race": "2",
            "sex": "1",
        }
    ]
    header = csv_table(classic.csv("combined", user="site_a_user"))[0]
    assert "redcap_data_access_group" not in header


def test_report_dag_filter_and_user_dag_together(classic):
    assert [r["record_id"] for r in classic.json("site_a", user="site_a_user")] == ["1"]
    # A report limited to site_a shows a site_b user nothing, not their own records.
    assert classic.json("site_a", user="site_b_user") == []


# -- report access and report ids --------------------------------------------------------------
def test_report_user_access(classic):
    assert [r["record_id"] for r in classic.json("restricted", user="full")] == ["1", "2", "10"]
    for user in ("deid", "site_a_user"):
        response = classic.export("restricted", user=user, format="json")
        assert response.status_code == 403
        assert response.json() == {"error": f'User "{user}" does not have access to this report.'}


def test_report_access_by_dag(classic):
    assert [r["record_id"] for r in classic.json("dag_access", user="site_a_user")] == ["1"]
    for user in ("site_b_user", "full"):
        response = classic.export("dag_access", user=user, format="csv")
        assert response.status_code == 403
        assert response.text == f'ERROR: User "{user}" does not have access to this report.'


def test_report_of_another_project(classic, longitudinal):
    other = str(longitudinal.reports["all"])
    response = classic.api.call(content="report", report_id=other, format="json")
    assert response.status_code == 403
    assert response.json() == {"error": not_in_project(other)}


@pytest.mark.parametrize("report_id", ["", "abc", "0", "99999999"])
def test_missing_or_unknown_report_id(classic, report_id):
    response = classic.api.call(content="report", report_id=report_id, format="json")
    assert response.status_code == 403
    assert response.json() == {"error": not_in_project(report_id)}
    response = classic.api.call(content="report", format="csv")
    assert (response.status_code, response.text) == (403, f"ERROR: {not_in_project('')}")


# -- report list ------------------------------------------------------------------------------
def listed(classic, user: str) -> set[str]:
    rows = classic.as_user(user).json(content="report", action="list")
    return {r["title"] for r in rows}


def test_report_list_shows_visible_reports(classic):
    titles = {spec["title"] for spec in CLASSIC_REPORTS.values()}
    owner = listed(classic, "owner")
    assert owner == titles - {"Only for full", "For site A users"}
    assert listed(classic, "full") == titles - {"For site A users"}
    assert listed(classic, "site_a_user") == titles - {"Only for full"}
    rows = classic.api.json(content="report", action="list")
    everything = {r["title"]: r for r in rows}
    assert everything["Everything"]["report_id"] == classic.reports["all"]
    text = classic.api.ok(content="report", action="list", format="csv").text
    assert text.startswith("report_id,title,fields\n")


# -- report import ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fresh(server) -> Api:
    api = create_project(server, "Report imports")
    api.import_json("metadata", DICTIONARY)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    return api


def import_reports(api: Api, reports) -> object:
    return api.call(content="report", action="import", format="json", data=json.dumps(reports))


GOOD = {"title": "Good", "fields": ["record_id", "sex"]}


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"title": "X", "fields": ["record_id", "nope"]}, "unknown fields: nope"),
        ({"title": "X", "fields": ["record_id"], "filter_events": ["e_arm_1"]}, "longitudinal"),
        ({"title": "X", "fields": ["record_id"], "filter_dags": ["site_z"]}, "unknown DAGs: site_z"),
        ({"title": "X", "fields": ["record_id"], "filter_logic": "[sex] = "}, "filter_logic"),
        ({"title": "X", "fields": ["record_id"], "filter_logic": "[nope] = 1"}, "filter_logic"),
        (
            {"title": "X", "fields": ["record_id"],
             "order_by": ["sex", "weight", "score", "height"]},
            "at most 3 order_by fields",
        ),
        ({"title": "X", "fields": ["record_id"], "order_by": ["race"]}, "checkbox"),
        ({"title": "X", "fields": ["record_id"], "order_by": ["nope"]}, "unknown order_by"),
        ({"title": "", "fields": ["record_id"]}, "title"),
        ({"title": "X", "fields": "record_id"}, "fields"),
        ({"title": "X", "fields": ["record_id"], "colour": "red"}, "Unknown report attributes"),
        ({"title": "X", "fields": ["record_id"], "filter_type": "ROW"}, "filter_type"),
        (
            {"title": "X", "fields": ["record_id"], "user_access": {"dags": ["site_z"]}},
            "unknown DAGs",
        ),
    ],
)  # fmt: skip
def test_import_validation_stores_nothing(fresh, report, message):
    before = fresh.json(content="report", action="list")
    response = import_reports(fresh, [GOOD, report])
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert fresh.json(content="report", action="list") == before


def test_import_not_json(fresh):
    response = fresh.call(content="report", action="import", format="json", data="{nope")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    response = fresh.call(content="report", action="import", format="json", data="[]")
    assert response.status_code == 400


def test_import_needs_design_rights(fresh, server):
    fresh.import_json("user", [{"username": "nodesign", "api_import": 1, "api_export": 1}])
    pid = fresh.json(content="project")["project_id"]
    with server.engine.begin() as conn:
        token = create_project_token(conn, pid, "nodesign")
    response = import_reports(Api(server, token), [GOOD])
    assert response.status_code == 403


def test_import_then_export(fresh):
    response = import_reports(fresh, [{"title": "Sexes", "fields": ["sex", "record_id"]}])
    assert response.status_code == 200 and response.json() == 1
    report_id = {r["title"]: r["report_id"] for r in fresh.json(content="report", action="list")}[
        "Sexes"
    ]
    fresh.import_json("record", [{"record_id": "5", "sex": "1"}])
    assert fresh.json(content="report", report_id=report_id) == [{"record_id": "5", "sex": "1"}]


# -- CLI --------------------------------------------------------------------------------------
def database_args(server) -> list[str]:
    url = server.engine.url.render_as_string(hide_password=False)
    return ["--data-dir", str(server.data_dir), "--database-url", url]


def test_cli_report_import_and_list(server, tmp_path):
    api = create_project(server, "CLI reports")
    api.import_json("metadata", DICTIONARY)
    api.import_json("record", [{"record_id": "1", "sex": "0", "weight": "50"}])
    pid = api.json(content="project")["project_id"]
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"title": "CLI weights", "fields": ["record_id", "weight"]}]))
    runner = CliRunner()
    result = runner.invoke(main, ["report", "import", *database_args(server), "--project",
                                  str(pid), str(good)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report_id, title = result.output.strip().split("\t")
    assert title == "CLI weights"
    assert api.json(content="report", report_id=report_id) == [{"record_id": "1", "weight": "50"}]
    listing = runner.invoke(main, ["report", "list", *database_args(server), "--project",
                                   str(pid)])  # fmt: skip
    assert listing.exit_code == 0, listing.output
    assert listing.output == f"{report_id}\t{pid}\tCLI weights\n"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([
        {"title": "Fine", "fields": ["record_id"]},
        {"title": "Broken", "fields": ["record_id", "nope"]},
    ]))  # fmt: skip
    result = runner.invoke(main, ["report", "import", *database_args(server), "--project",
                                  str(pid), str(bad)])  # fmt: skip
    assert result.exit_code != 0
    assert "unknown fields: nope" in result.output and "Nothing was imported" in result.output
    listing = runner.invoke(main, ["report", "list", *database_args(server), "--project",
                                   str(pid)])  # fmt: skip
    assert listing.output == f"{report_id}\t{pid}\tCLI weights\n"
    missing = runner.invoke(main, ["report", "import", *database_args(server), "--project",
                                   "999999", str(good)])  # fmt: skip
    assert missing.exit_code != 0 and "There is no project 999999" in missing.output
