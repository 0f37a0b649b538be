"""Real REDCap project XMLs imported through Create Project (``odm``), then read with
unmodified PyCap exactly as its doctests do (``redcap/methods/*.py`` ``>>>`` examples)."""

from __future__ import annotations

import pytest
from projectxml_helpers import FIXTURES, create_from_fixture, export_xml, post_odm
from redcap import Project, RedcapError
from sqlalchemy import select

from localcap.db import schema as t


@pytest.fixture(scope="module")
def doctest_project(server) -> Project:
    api = create_from_fixture(server, "pycap_doctest_project.xml", "doctest project")
    return Project(server.url, api.token)


def test_export_file(doctest_project: Project):
    assert doctest_project.export_file(record="1", field="upload_field", event="event_1_arm_1") == (
        b"test upload\n",
        {"name": "test_upload.txt", "charset": "UTF-8"},
    )


def test_records(doctest_project: Project):
    records = doctest_project.export_records()
    assert records[:2] == [
        {
            "record_id": "1",
            "redcap_event_name": "event_1_arm_1",
            "redcap_repeat_instrument": "",
            "redcap_repeat_instance": 1,
            "field_1": "1",
            "checkbox_field___1": "0",
            "checkbox_field___2": "1",
            "upload_field": "test_upload.txt",
            "form_1_complete": "2",
        },
        {
            "record_id": "2",
            "redcap_event_name": "event_1_arm_1",
            "redcap_repeat_instrument": "",
            "redcap_repeat_instance": 1,
            "field_1": "0",
            "checkbox_field___1": "0",
            "checkbox_field___2": "0",
            "upload_field": "",
            "form_1_complete": "0",
        },
    ]
    assert [r["record_id"] for r in records] == ["1", "2", "3"]
    filtered = doctest_project.export_records(filter_logic="[field_1] = 1")
    assert filtered[0] == records[0]
    assert {r["field_1"] for r in filtered} == {"1"}
    csv = doctest_project.export_records(
        format_type="csv", fields=["field_1", "checkbox_field"], raw_or_label="label"
    )
    lines = csv.splitlines()
    assert lines[0] == (
        "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,"
        "field_1,checkbox_field___1,checkbox_field___2"
    )
    assert lines[1].startswith("1,") and lines[1].endswith(",,1,Yes,Unchecked,Checked")
    assert lines[2].startswith("2,") and lines[2].endswith(",,1,No,Unchecked,Unchecked")
    assert "test_dag" in doctest_project.export_records(
        format_type="csv", export_data_access_groups=True
    )


def test_design(doctest_project: Project):
    p = doctest_project
    metadata = p.export_metadata()
    assert [m["field_name"] for m in metadata] == [
        "record_id",
        "field_1",
        "checkbox_field",
        "upload_field",
    ]
    assert {m["form_name"] for m in metadata} == {"form_1"}
    assert metadata[1]["field_type"] == "yesno"
    assert metadata[2]["field_type"] == "checkbox"
    assert metadata[2]["select_choices_or_calculations"] == "1, Option 1|2, Option 2"
    assert metadata[3]["field_type"] == "file"
    assert p.export_arms() == [{"arm_num": 1, "name": "Arm 1"}]
    events = p.export_events()
    assert [(e["event_name"], e["arm_num"], e["unique_event_name"]) for e in events] == [
        ("Event 1", 1, "event_1_arm_1"),
        ("Event 2", 1, "event_2_arm_1"),
    ]
    assert events[0]["custom_event_label"] == ""
    assert p.export_instruments() == [{"instrument_name": "form_1", "instrument_label": "Form 1"}]
    assert p.export_instrument_event_mappings() == [
        {"arm_num": 1, "unique_event_name": "event_1_arm_1", "form": "form_1"}
    ]
    assert p.export_repeating_instruments_events() == [
        {"event_name": "event_1_arm_1", "form_name": "", "custom_form_label": ""}
    ]
    dags = p.export_dags()
    assert [(d["data_access_group_name"], d["unique_group_name"]) for d in dags] == [
        ("Test DAG", "test_dag")
    ]
    names = p.export_field_names()
    for expected in (
        {"original_field_name": "record_id", "choice_value": "", "export_field_name": "record_id"},
        {"original_field_name": "field_1", "choice_value": "", "export_field_name": "field_1"},
        {
            "original_field_name": "checkbox_field",
            "choice_value": "1",
            "export_field_name": "checkbox_field___1",
        },
        {
            "original_field_name": "checkbox_field",
            "choice_value": "2",
            "export_field_name": "checkbox_field___2",
        },
    ):
        assert expected in names
    info = p.export_project_info()
    assert info["is_longitudinal"] == 1
    assert info["has_repeating_instruments_or_events"] == 1
    assert info["surveys_enabled"] == 1
    assert info["record_autonumbering_enabled"] == 1


def test_report(server, doctest_project: Project):
    with server.engine.connect() as conn:
        row = conn.execute(
            select(t.reports.c.report_id, t.reports.c.title).where(
                t.reports.c.unique_report_name == "R-139MKP9FXE"
            )
        ).all()[-1]
    assert row.title == "Example Report"
    report = doctest_project.export_report(report_id=str(row.report_id))
    assert report[0] == {
        "record_id": "1",
        "redcap_event_name": "event_1_arm_1",
        **({k: report[0][k] for k in report[0] if k.startswith("redcap_repeat")}),
        "checkbox_field___1": "0",
        "checkbox_field___2": "1",
    }
    assert all(r["record_id"] in ("1", "3") for r in report)


def test_values_that_fail_validation_are_kept_with_a_warning(server):
    """REDCap exports values entered before a validation or choice list changed, and imports
    them again: REDCapR's "potentially problematic values" project (a date field holding
    "before validation 1") loads on real REDCap servers. localcap keeps them and says so."""
    text = (FIXTURES / "pycap_doctest_project.xml").read_text()
    text = text.replace('ItemOID="field_1" Value="0"', 'ItemOID="field_1" Value="7"')
    response = post_odm(server, text, "kept values")
    assert response.status_code == 200, response.text
    project = Project(server.url, response.text[-32:])
    assert [r["field_1"] for r in project.export_records(records=["2"])] == ["7"]
    # Import Records itself still refuses such a value.
    with pytest.raises(RedcapError, match="not a valid category"):
        project.import_records(
            [{"record_id": "2", "redcap_event_name": "event_1_arm_1", "field_1": "8"}]
        )


@pytest.mark.parametrize(
    ("name", "record_field", "count"),
    [
        ("pycap_test_simple_project.xml", "record_id", 3),
        ("pycap_test_long_project.xml", "study_id", 2),
    ],
)
def test_other_fixtures(server, name: str, record_field: str, count: int):
    api = create_from_fixture(server, name)
    project = Project(server.url, api.token)
    metadata = project.export_metadata()
    assert metadata[0]["field_name"] == record_field
    records = project.export_records()
    assert len({r[record_field] for r in records}) == count
    if name == "pycap_test_simple_project.xml":
        by_name = {m["field_name"]: m for m in metadata}
        assert by_name["first_name"]["section_header"] == "Contact Information"
        assert by_name["first_name"]["identifier"] == "y"
        assert by_name["telephone"]["field_note"] == "Include Area Code"
        assert by_name["telephone"]["text_validation_type_or_show_slider_number"] == "phone"
        assert by_name["height"]["text_validation_min"] == "130"
        assert by_name["height"]["text_validation_max"] == "215"
        assert by_name["address"]["field_type"] == "notes"
        assert by_name["race"]["field_type"] == "dropdown"
        assert by_name["ethnicity"]["custom_alignment"] == "LH"
        assert by_name["bmi"]["select_choices_or_calculations"] == (
            "round(([weight]*10000)/(([height])^(2)),1)"
        )
        assert records[0]["telephone"] == "(415) 555-1212"
        dags = {r["record_id"]: r for r in project.export_records(export_data_access_groups=True)}
        assert dags["3"]["redcap_data_access_group"] == "test_dag"
    else:
        by_name = {m["field_name"]: m for m in metadata}
        assert by_name["gym"]["matrix_group_name"] == "weekly_schedule"
        assert by_name["specify_mood"]["field_type"] == "slider"
        assert by_name["specify_mood"]["select_choices_or_calculations"] == (
            "Very sad | Indifferent | Very happy"
        )
        assert by_name["num_children"]["branching_logic"] == ('[sex] = "0" and [given_birth] = "1"')
        assert len(project.export_arms()) == 2
        assert len(project.export_events()) == 16
        assert project.export_repeating_instruments_events() == [
            {
                "event_name": "enrollment_arm_1",
                "form_name": "baseline_data",
                "custom_form_label": "",
            }
        ]
        events = {r["redcap_event_name"] for r in records}
        assert "enrollment_arm_1" in events and len(events) > 3
    # the whole project comes back out as XML
    assert export_xml(api).count("<SubjectData ") == count
