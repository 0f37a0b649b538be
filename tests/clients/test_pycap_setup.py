"""Unmodified PyCap against the running server: set a project up, export it back, compare.

The project is created with the super token (PyCap has no method for that), then everything
else goes through ``redcap.Project`` exactly as a user's script would.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from redcap import Project, RedcapError

from builders import CLINICAL_DICTIONARY, create_project


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def xml_rows(text: str) -> list[dict[str, str]]:
    return [{c.tag: c.text or "" for c in item} for item in ET.fromstring(text.encode())]


def as_text(rows: list[dict]) -> list[dict[str, str]]:
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


@pytest.fixture
def project(server) -> Project:
    api = create_project(server, "PyCap longitudinal", longitudinal=True)
    return Project(server.url, api.token)


def test_pycap_builds_and_reads_back_a_longitudinal_project(project: Project):
    assert project.import_metadata(CLINICAL_DICTIONARY) == len(CLINICAL_DICTIONARY)
    assert (
        project.import_arms([{"arm_num": 1, "name": "Drug"}, {"arm_num": 2, "name": "Placebo"}])
        == 2
    )
    assert (
        project.import_events(
            [
                {"event_name": "Baseline", "arm_num": 1},
                {"event_name": "Week 4", "arm_num": 1},
                {"event_name": "Baseline", "arm_num": 2},
            ],
            override=1,
        )
        == 3
    )
    mapping = [
        {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "demographics"},
        {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "adverse_events"},
        {"arm_num": 1, "unique_event_name": "week_4_arm_1", "form": "visit"},
        {"arm_num": 2, "unique_event_name": "baseline_arm_2", "form": "demographics"},
    ]
    assert project.import_instrument_event_mappings(mapping) == 4
    assert (
        project.import_repeating_instruments_events(
            [
                {
                    "event_name": "baseline_arm_1",
                    "form_name": "adverse_events",
                    "custom_form_label": "[ae_term]",
                }
            ]
        )
        == 1
    )
    assert (
        project.import_dags(
            [
                {"data_access_group_name": "Site A", "unique_group_name": ""},
                {"data_access_group_name": "Site B", "unique_group_name": ""},
            ]
        )
        == 2
    )
    assert (
        project.import_users(
            [
                {
                    "username": "coordinator",
                    "email": "c@example.org",
                    "api_export": 1,
                    "api_import": 1,
                    "forms_export": {"demographics": 2, "visit": 1, "adverse_events": 3},
                }
            ]
        )
        == 1
    )
    assert (
        project.import_user_dag_assignment(
            [{"username": "coordinator", "redcap_data_access_group": "site_a"}]
        )
        == 1
    )
    records = [
        {
            "record_id": "1",
            "redcap_event_name": "baseline_arm_1",
            "first_name": "Ann",
            "sex": "0",
            "race___2": "1",
            "redcap_data_access_group": "site_a",
        },
        {
            "record_id": "1",
            "redcap_event_name": "baseline_arm_1",
            "redcap_repeat_instrument": "adverse_events",
            "redcap_repeat_instance": 1,
            "ae_term": "Rash",
            "ae_grade": "1",
        },
        {"record_id": "1", "redcap_event_name": "week_4_arm_1", "weight": "70.2"},
        {"record_id": "2", "redcap_event_name": "baseline_arm_2", "first_name": "Bo"},
    ]
    assert project.import_records(records) == {"count": 2}

    # PyCap's own view of the project.
    assert project.is_longitudinal is True
    assert project.def_field == "record_id"
    assert set(project.forms) == {"demographics", "visit", "adverse_events"}

    # Each export, in json, csv and xml, says the same thing.
    exports = {
        "metadata": project.export_metadata,
        "arms": project.export_arms,
        "events": project.export_events,
        "mappings": project.export_instrument_event_mappings,
        "repeating": project.export_repeating_instruments_events,
        "dags": project.export_dags,
        "user_dags": project.export_user_dag_assignment,
        "instruments": project.export_instruments,
        "field_names": project.export_field_names,
        "records": project.export_records,
    }
    for name, export in exports.items():
        as_json = as_text(export(format_type="json"))
        assert csv_rows(export(format_type="csv")) == as_json, name
        assert xml_rows(export(format_type="xml")) == as_json, name

    assert [a["name"] for a in project.export_arms()] == ["Drug", "Placebo"]
    assert [e["unique_event_name"] for e in project.export_events()] == [
        "baseline_arm_1",
        "week_4_arm_1",
        "baseline_arm_2",
    ]
    assert project.export_instrument_event_mappings() == [
        {**m, "arm_num": int(m["arm_num"])} for m in mapping
    ]
    assert project.export_repeating_instruments_events() == [
        {
            "event_name": "baseline_arm_1",
            "form_name": "adverse_events",
            "custom_form_label": "[ae_term]",
        }
    ]
    assert [d["unique_group_name"] for d in project.export_dags()] == ["site_a", "site_b"]
    users = {u["username"]: u for u in project.export_users()}
    assert users["coordinator"]["forms_export"] == {
        "demographics": 2,
        "visit": 1,
        "adverse_events": 3,
    }
    assert users["coordinator"]["data_access_group"] == "site_a"
    rows = project.export_records()
    assert [
        (r["record_id"], r["redcap_event_name"], r["redcap_repeat_instrument"]) for r in rows
    ] == [
        ("1", "baseline_arm_1", ""),
        ("1", "baseline_arm_1", "adverse_events"),
        ("1", "week_4_arm_1", ""),
        ("2", "baseline_arm_2", ""),
    ]
    assert rows[0]["race___2"] == "1" and rows[2]["weight"] == "70.2"
    frame = project.export_records(format_type="df")
    assert len(frame) == 4
    only = project.export_records(records=["2"], fields=["first_name"])
    assert [(r["record_id"], r["first_name"]) for r in only] == [("2", "Bo")]
    assert project.delete_records(["2"]) == 1
    assert {r["record_id"] for r in project.export_records()} == {"1"}


def test_pycap_sees_classic_projects_as_classic(server):
    api = create_project(server, "PyCap classic")
    project = Project(server.url, api.token)
    assert project.is_longitudinal is False
    with pytest.raises(RedcapError):
        project.export_arms()
    assert project.export_version() is not None


def test_pycap_import_errors_raise(server):
    project = Project(server.url, create_project(server, "Classic").token)
    project.import_metadata(CLINICAL_DICTIONARY)
    with pytest.raises(RedcapError) as info:
        project.import_records([{"record_id": "1", "sex": "9"}])
    assert "not a valid category for sex" in str(info.value)
