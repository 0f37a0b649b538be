"""Report test projects (built once per backend through the real API) and helpers.

``classic``: a classic project (repeating ``adverse_events``), two DAGs, records 1, 2, 10 and
a file upload, users at every export-rights level, and a set of reports.
``longitudinal``: two arms, a repeating event (``visit_2_arm_1``), a repeating instrument in
``baseline_arm_1``, and reports with event and logic filters.

Every expected output in the tests is written from REDCap's documented behaviour
(docs/REPORTS.md, docs/REDCAP_API.md), not from localcap's output.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import requests

from builders import Api, clinical_longitudinal, create_project
from builders import field as dd
from localcap.db.tokens import create_project_token

#: demographics: identifiers, validated and free text, choices; visit: numbers, a comma-decimal
#: number, a date, a calc, true/false, a file; adverse_events: repeats (classic project).
DICTIONARY = [
    dd("record_id", "demographics", label="Record ID"),
    dd("first_name", "demographics", label="First name", identifier="y"),
    dd(
        "dob",
        "demographics",
        label="Date of birth",
        text_validation_type_or_show_slider_number="date_ymd",
        identifier="y",
    ),
    dd("email", "demographics", label="Email", text_validation_type_or_show_slider_number="email"),
    dd("sex", "demographics", "radio", "Sex", select_choices_or_calculations="0, Female | 1, Male"),
    dd(
        "race",
        "demographics",
        "checkbox",
        "Race",
        select_choices_or_calculations="1, White | 2, Black | 3, Asian | 98, Other",
    ),
    dd("consent", "demographics", "yesno", "Consented?"),
    dd("notes", "demographics", "notes", "Notes"),
    dd("comment", "demographics", label="Comment"),
    dd(
        "visit_date",
        "visit",
        label="Visit date",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    dd("weight", "visit", label="Weight (kg)", text_validation_type_or_show_slider_number="number"),
    dd("height", "visit", label="Height (m)", text_validation_type_or_show_slider_number="number"),
    dd(
        "temp",
        "visit",
        label="Temperature",
        text_validation_type_or_show_slider_number="number_1dp_comma_decimal",
    ),
    dd("score", "visit", label="Score", text_validation_type_or_show_slider_number="integer"),
    # localcap computes calc fields on import: this one gives record 1's 24.4 and, with no
    # temperature, leaves records 2 and 10 blank
    dd(
        "bmi",
        "visit",
        "calc",
        "BMI",
        select_choices_or_calculations="if([temp] <> '', round([weight]/(([height])^(2)), 1), '')",
    ),
    dd("visit_ok", "visit", "truefalse", "Visit done"),
    dd("scan", "visit", "file", "Scan"),
    dd("ae_term", "adverse_events", label="AE term"),
    dd(
        "ae_grade",
        "adverse_events",
        "dropdown",
        "Grade",
        select_choices_or_calculations="1, Mild | 2, Moderate | 3, Severe",
    ),
]

CLASSIC_RECORDS = [
    {
        "record_id": "1",
        "redcap_data_access_group": "site_a",
        "first_name": "Ann",
        "dob": "1980-01-02",
        "email": "ann@example.org",
        "sex": "0",
        "race___1": "1",
        "race___3": "1",
        "consent": "1",
        "notes": "line1\r\nline2",
        "comment": 'say "hi"',
        "demographics_complete": "2",
        "visit_date": "2024-01-10",
        "weight": "70.5",
        "height": "1.7",
        "temp": "37,5",
        "score": "9",
        "bmi": "24.4",
        "visit_ok": "1",
        "visit_complete": "1",
    },
    {
        "record_id": "1",
        "redcap_repeat_instrument": "adverse_events",
        "redcap_repeat_instance": "1",
        "ae_term": "Rash",
        "ae_grade": "2",
    },
    {
        "record_id": "1",
        "redcap_repeat_instrument": "adverse_events",
        "redcap_repeat_instance": "2",
        "ae_term": "Fever",
        "ae_grade": "3",
        "adverse_events_complete": "2",
    },
    {
        "record_id": "2",
        "redcap_data_access_group": "site_b",
        "first_name": "Bob",
        "sex": "1",
        "race___2": "1",
        "consent": "0",
        "notes": "a\nb",
        "comment": "x\ry",
        "weight": "80",
        "height": "1.8",
        "score": "10",
        "visit_ok": "0",
    },
    {
        "record_id": "2",
        "redcap_repeat_instrument": "adverse_events",
        "redcap_repeat_instance": "1",
        "ae_term": "Cough",
        "ae_grade": "1",
    },
    {
        "record_id": "10",
        "first_name": "Cy",
        "sex": "1",
        "comment": "has, comma",
        "weight": "9.5",
        "score": "2",
    },
]

ALL_FIELDS = [
    "record_id",
    "first_name",
    "dob",
    "email",
    "sex",
    "race",
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

CLASSIC_REPORTS: dict[str, dict[str, Any]] = {
    "all": {"title": "Everything", "fields": ALL_FIELDS},
    "reordered": {"title": "Reordered", "fields": ["weight", "record_id", "sex", "first_name"]},
    "combined": {
        "title": "Combined checkboxes and DAGs",
        "fields": ["record_id", "race", "sex"],
        "combine_checkbox_values": True,
        "output_dags": True,
    },
    "keep_breaks": {
        "title": "Line breaks kept",
        "fields": ["record_id", "notes", "comment"],
        "remove_line_breaks": False,
    },
    "ordered": {
        "title": "By score descending",
        "fields": ["record_id", "score", "weight", "sex"],
        "order_by": [{"field": "score", "direction": "DESC"}],
    },
    "ordered_weight": {
        "title": "By sex then weight",
        "fields": ["record_id", "sex", "weight"],
        "order_by": [
            {"field": "sex", "direction": "ASC"},
            {"field": "weight", "direction": "ASC"},
        ],
    },
    "ordered_ties": {
        "title": "By sex only (ties)",
        "fields": ["record_id", "sex"],
        "order_by": [{"field": "sex", "direction": "DESC"}],
    },
    "logic": {
        "title": "Men",
        "fields": ["record_id", "sex", "weight"],
        "filter_logic": "[sex] = '1'",
    },
    "ae_logic": {
        "title": "Severe AEs",
        "fields": ["record_id", "ae_term", "ae_grade"],
        "filter_logic": "[ae_grade] >= 2",
    },
    "ae_only": {"title": "AEs", "fields": ["record_id", "ae_term", "ae_grade"]},
    "site_a": {"title": "Site A", "fields": ["record_id", "sex"], "filter_dags": ["site_a"]},
    "empty": {"title": "Nobody", "fields": ["record_id", "sex"], "filter_logic": "[sex] = '7'"},
    "restricted": {
        "title": "Only for full",
        "fields": ["record_id", "sex"],
        "user_access": {"users": ["full"], "roles": [], "dags": []},
    },
    "dag_access": {
        "title": "For site A users",
        "fields": ["record_id", "sex"],
        "user_access": {"users": [], "roles": [], "dags": ["site_a"]},
    },
    "visit_only": {"title": "Visit", "fields": ["record_id", "weight", "temp", "bmi", "scan"]},
    "visit_numbers": {
        "title": "Numbers",
        "fields": ["record_id", "weight", "height", "temp", "score", "bmi"],
    },
}

ALL_FORMS = ("demographics", "visit", "adverse_events")

#: username -> (export level per form, DAG)
CLASSIC_USERS: dict[str, tuple[dict[str, int], str]] = {
    "full": ({f: 1 for f in ALL_FORMS}, ""),
    "deid": ({f: 2 for f in ALL_FORMS}, ""),
    "noid": ({f: 3 for f in ALL_FORMS}, ""),
    "noaccess": ({f: 0 for f in ALL_FORMS}, ""),
    "mixed": ({"demographics": 2, "visit": 1, "adverse_events": 0}, ""),
    "site_a_user": ({f: 1 for f in ALL_FORMS}, "site_a"),
    "site_b_user": ({f: 1 for f in ALL_FORMS}, "site_b"),
}


@dataclass
class ReportProject:
    api: Api
    project_id: int
    reports: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def as_user(self, username: str) -> Api:
        return Api(self.api.server, self.tokens[username])

    def export(self, name: str, user: str = "", **params: Any) -> requests.Response:
        api = self.as_user(user) if user else self.api
        return api.call(content="report", report_id=str(self.reports[name]), **params)

    def json(self, name: str, user: str = "", **params: Any) -> list[dict[str, Any]]:
        response = self.export(name, user, format="json", **params)
        assert response.status_code == 200, response.text
        return response.json()

    def csv(self, name: str, user: str = "", **params: Any) -> str:
        response = self.export(name, user, format="csv", **params)
        assert response.status_code == 200, response.text
        return response.text


def csv_table(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def xml_items(text: str) -> list[dict[str, str]]:
    return [{c.tag: c.text or "" for c in item} for item in ET.fromstring(text.encode())]


def import_reports(api: Api, reports: dict[str, dict[str, Any]]) -> dict[str, int]:
    response = api.call(
        content="report",
        action="import",
        format="json",
        returnContent="ids",
        data=json.dumps(list(reports.values())),
    )
    assert response.status_code == 200, response.text
    return dict(zip(reports, response.json(), strict=True))


def add_users(
    server, api: Api, project_id: int, users: dict[str, tuple[dict[str, int], str]]
) -> dict[str, str]:
    rows = [
        {
            "username": name,
            "api_export": 1,
            "forms_export": levels,
            "data_access_group": dag,
        }
        for name, (levels, dag) in users.items()
    ]
    assert api.import_json("user", rows) == len(rows)
    with server.engine.begin() as conn:
        return {name: create_project_token(conn, project_id, name) for name in users}


def build_classic(server) -> ReportProject:
    api = create_project(server, "Reports classic")
    assert api.import_json("metadata", DICTIONARY) == len(DICTIONARY)
    api.import_json(
        "repeatingFormsEvents", [{"form_name": "adverse_events", "custom_form_label": ""}]
    )
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    assert api.import_json("record", CLASSIC_RECORDS) == {"count": 3}
    upload = api.call(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("scan.txt", b"a scan\n", "text/plain")},
    )
    assert upload.status_code == 200, upload.text
    project_id = api.json(content="project")["project_id"]
    reports = import_reports(api, CLASSIC_REPORTS)
    tokens = add_users(server, api, project_id, CLASSIC_USERS)
    tokens["owner"] = api.token
    return ReportProject(api, project_id, reports, tokens)


LONGITUDINAL_RECORDS = [
    {
        "record_id": "1",
        "redcap_event_name": "baseline_arm_1",
        "first_name": "Ann",
        "sex": "0",
        "race___2": "1",
        "weight": "70",
    },
    {
        "record_id": "1",
        "redcap_event_name": "baseline_arm_1",
        "redcap_repeat_instrument": "adverse_events",
        "redcap_repeat_instance": "1",
        "ae_term": "Rash",
        "ae_grade": "2",
    },
    {
        "record_id": "1",
        "redcap_event_name": "visit_2_arm_1",
        "redcap_repeat_instance": "1",
        "weight": "71",
    },
    {
        "record_id": "1",
        "redcap_event_name": "visit_2_arm_1",
        "redcap_repeat_instance": "2",
        "weight": "72",
    },
    {"record_id": "2", "redcap_event_name": "baseline_arm_2", "sex": "1", "weight": "90"},
    {"record_id": "3", "redcap_event_name": "baseline_arm_1", "sex": "1", "weight": "60"},
    {
        "record_id": "3",
        "redcap_event_name": "visit_2_arm_1",
        "redcap_repeat_instance": "1",
        "weight": "65",
    },
]

LONGITUDINAL_REPORTS: dict[str, dict[str, Any]] = {
    "all": {"title": "All", "fields": ["record_id", "sex", "weight", "ae_term"]},
    "baseline_only": {
        "title": "Baseline arm 1",
        "fields": ["record_id", "sex", "weight"],
        "filter_events": ["baseline_arm_1"],
    },
    "heavy_event": {
        "title": "Heavy rows",
        "fields": ["record_id", "weight"],
        "filter_logic": "[weight] > 70",
        "filter_type": "EVENT",
    },
    "heavy_record": {
        "title": "Records with a heavy row",
        "fields": ["record_id", "weight"],
        "filter_logic": "[weight] > 70",
        "filter_type": "RECORD",
    },
    "cross_event": {
        "title": "Weights of women",
        "fields": ["record_id", "weight"],
        "filter_logic": "[baseline_arm_1][sex] = '0'",
    },
}


def build_longitudinal(server) -> ReportProject:
    api = clinical_longitudinal(server)
    assert api.import_json("record", LONGITUDINAL_RECORDS) == {"count": 3}
    project_id = api.json(content="project")["project_id"]
    reports = import_reports(api, LONGITUDINAL_REPORTS)
    return ReportProject(api, project_id, reports, {"owner": api.token})
