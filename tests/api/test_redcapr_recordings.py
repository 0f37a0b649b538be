"""What REDCapR recorded from real REDCap (issue 15, items 1-9; item 10 from a suite run),
asserted over HTTP.

Each test names the recorded behaviour it checks; docs/CLIENTS.md, "What REDCapR recorded",
gives the evidence. The projects here are small ones built for the test (or PyCap's test XML,
exported by a real REDCap), not REDCapR's.
"""

from __future__ import annotations

import json

import requests

from builders import Api, clinical_classic, create_project, field
from projectxml.projectxml_helpers import create_from_fixture, create_from_odm, export_xml
from reports.report_helpers import import_reports
from surveys.survey_helpers import link_for, survey_project

#: Apache's standard 404 page, as REDCapR recorded it for a URL that is not the API.
APACHE_404 = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)


def test_1_a_project_xml_import_computes_the_calc_fields(server):
    """The XML's calc values are not imported; they are computed once its records are in
    (REDCapR's projects built from their XMLs hold bmi 204.1, 277.8, ...), and EAV lists a
    record's calc values after all its other values, as REDCap stores them last."""
    api = create_from_fixture(server, "pycap_test_simple_project.xml")
    record = api.json(content="record", records="1")[0]
    assert record["weight"] == "100" and record["height"] == "130"
    assert record["bmi"] == "59.2"  # round(100 * 10000 / 130^2, 1)
    eav = api.json(content="record", type="eav", records="1")
    names = [row["field_name"] for row in eav]
    assert names[-2:] == ["age", "bmi"]
    assert names.index("demographics_complete") < names.index("age")
    assert eav[-1]["value"] == "59.2"


def test_2_import_records_ignores_values_of_file_fields(server):
    """REDCapR writes an exported data frame back with its "[document]" placeholders: REDCap
    accepts the import and leaves the stored file as it is."""
    api = clinical_classic(server, repeating=False)
    api.import_json("record", [{"record_id": "1", "first_name": "Ann"}])
    api.ok(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("scan.txt", b"the scan")},
    )
    exported = api.json(content="record", records="1")[0]
    assert exported["scan"] == "scan.txt"
    exported["first_name"] = "Anne"
    assert api.import_json("record", [exported]) == {"count": 1}
    assert api.import_json("record", [{"record_id": "2", "scan": "[document]"}]) == {"count": 1}
    assert api.json(content="record", records="1")[0]["first_name"] == "Anne"
    assert api.ok(content="file", action="export", record="1", field="scan").content == b"the scan"
    assert api.json(content="record", records="2")[0]["scan"] == ""


def test_3_xml_float_and_int_are_number_and_integer_in_the_dictionary(server):
    """A field the project XML calls float/int is number/integer in Export Metadata; the XML
    export says float/int again, as REDCap's does."""
    api = create_from_fixture(server, "pycap_test_simple_project.xml")
    by_name = {row["field_name"]: row for row in api.json(content="metadata")}
    assert by_name["height"]["text_validation_type_or_show_slider_number"] == "number"
    assert by_name["weight"]["text_validation_type_or_show_slider_number"] == "integer"
    xml = export_xml(api)
    assert (
        'redcap:Variable="height" redcap:FieldType="text" redcap:TextValidationType="float"' in xml
    )
    assert 'redcap:Variable="weight" redcap:FieldType="text" redcap:TextValidationType="int"' in xml
    copy = create_from_odm(server, xml)
    assert copy.json(content="metadata") == api.json(content="metadata")


def test_4_choices_are_exported_as_imported(server):
    """A dictionary imported with '1, Yup | 2, Nope | 3, Other' is exported unchanged."""
    api = create_project(server, "Choices")
    choices = "1, Yup | 2, Nope | 3, Other"
    rows = [
        field("record_id", "form_1"),
        field("answer", "form_1", "radio", select_choices_or_calculations=choices),
    ]
    api.import_json("metadata", rows)
    assert api.json(content="metadata")[1]["select_choices_or_calculations"] == choices
    assert api.import_json("record", [{"record_id": "1", "answer": "3"}]) == {"count": 1}


def test_5_reports_turn_a_lone_lf_and_a_crlf_into_two_spaces(server):
    """REDCapR recorded 'St.\\nKenning' from Export Records and 'St.  Kenning' from a report."""
    api = create_project(server, "Line breaks")
    api.import_json("metadata", [field("record_id", "form_1"), field("address", "form_1", "notes")])
    api.import_json(
        "record",
        [
            {"record_id": "1", "address": "14 Rose Cottage St.\nKenning UK, 323232"},
            {"record_id": "2", "address": "a\r\nb"},
        ],
    )
    ids = import_reports(api, {"r": {"title": "Addresses", "fields": ["record_id", "address"]}})
    rows = api.json(content="report", report_id=str(ids["r"]))
    assert [r["address"] for r in rows] == ["14 Rose Cottage St.  Kenning UK, 323232", "a  b"]
    assert api.json(content="record", records="1")[0]["address"] == (
        "14 Rose Cottage St.\nKenning UK, 323232"
    )


def longitudinal(server, arms: int = 1) -> Api:
    """Arm 1: enrollment (demographics) and dose_1 (dose); any further arm: enrollment."""
    api = create_project(server, "Longitudinal", longitudinal=True)
    api.import_json(
        "metadata",
        [field("record_id", "demographics"), field("name", "demographics"), field("mg", "dose")],
    )
    api.import_json("arm", [{"arm_num": n, "name": f"Arm {n}"} for n in range(1, arms + 1)])
    events = [{"event_name": "Enrollment", "arm_num": n} for n in range(1, arms + 1)]
    events.insert(1, {"event_name": "Dose 1", "arm_num": 1})
    api.import_json("event", events, override=1)
    mapping = [{"arm_num": 1, "unique_event_name": "dose_1_arm_1", "form": "dose"}]
    mapping += [
        {"arm_num": n, "unique_event_name": f"enrollment_arm_{n}", "form": "demographics"}
        for n in range(1, arms + 1)
    ]
    api.import_json("formEventMapping", mapping)
    return api


def test_6_asking_for_the_record_id_lists_every_event_holding_data(server):
    """REDCapR asked for the record ID and one form only some events hold, and got a row for
    every event with data (18 rows: enrollment_arm_1, dose_1_arm_1, ...)."""
    api = longitudinal(server)
    api.import_json(
        "record",
        [
            {"record_id": "1", "redcap_event_name": "enrollment_arm_1", "name": "Ann"},
            {"record_id": "1", "redcap_event_name": "dose_1_arm_1", "mg": "5"},
            {"record_id": "2", "redcap_event_name": "enrollment_arm_1", "name": "Bob"},
        ],
    )
    rows = api.json(content="record", fields="record_id", forms="dose")
    assert [(r["record_id"], r["redcap_event_name"], r["mg"]) for r in rows] == [
        ("1", "enrollment_arm_1", ""),
        ("1", "dose_1_arm_1", "5"),
        ("2", "enrollment_arm_1", ""),
    ]
    # without the record ID, only the rows where the asked-for form holds data
    rows = api.json(content="record", fields="mg")
    assert [r["mg"] for r in rows] == ["5"]


def test_7_delete_records_with_an_arm_deletes_from_that_arm_only(server):
    """REDCapR deleted records from arm 2 and found them still in arms 1 and 3."""
    api = longitudinal(server, arms=2)
    api.import_json(
        "record",
        [
            {"record_id": "1", "redcap_event_name": "enrollment_arm_1", "name": "Ann"},
            {"record_id": "1", "redcap_event_name": "enrollment_arm_2", "name": "Ann 2"},
            {"record_id": "2", "redcap_event_name": "enrollment_arm_2", "name": "Bob 2"},
        ],
    )
    assert api.ok(content="record", action="delete", records="1", arm="2").text == "1"
    rows = api.json(content="record")
    assert [(r["record_id"], r["redcap_event_name"]) for r in rows] == [
        ("1", "enrollment_arm_1"),
        ("2", "enrollment_arm_2"),
    ]
    # a record not in the arm cannot be deleted from it; one left in no arm is gone
    refused = api.call(content="record", action="delete", records="1", arm="2")
    assert refused.status_code == 400 and "do not exist" in refused.text
    assert api.ok(content="record", action="delete", records="2", arm="2").text == "1"
    assert api.ok(content="generateNextRecordName").text == "2"
    assert api.ok(content="record", action="delete", records="1").text == "1"
    assert api.json(content="record") == []
    bad = api.call(content="record", action="delete", records="1", arm="9")
    assert bad.status_code == 400


def test_8_export_records_in_csv_with_no_rows_is_an_empty_body(server):
    """REDCapR recorded an empty body, no header line, for a CSV export with no rows."""
    api = clinical_classic(server, repeating=False)
    assert api.ok(content="record", format="csv").content == b""
    assert api.ok(content="record", format="csv", type="eav").content == b""
    api.import_json("record", [{"record_id": "1", "first_name": "Ann"}])
    assert api.ok(content="record", format="csv", records="2").content == b""
    assert api.ok(content="record", format="csv").text.startswith("record_id,")
    assert api.json(content="record", records="2") == []


def test_9_a_path_that_is_not_the_api_gets_apaches_404_page(server):
    """REDCapR recorded Apache's standard 404 page for https://.../redcap/apiFFFF/."""
    base = server.url.removesuffix("/api/")
    for response in (
        requests.post(f"{base}/redcap/apiFFFFFFFFFFFFFF/", data={"token": "x"}, timeout=30),
        requests.get(f"{base}/nothing/here", timeout=30),
    ):
        assert response.status_code == 404
        assert response.content == APACHE_404
        assert response.headers["content-type"].startswith("text/html")
    # the API and the survey pages are unchanged
    api = survey_project(server)
    assert api.ok(content="version").text
    page = requests.get(link_for(api), timeout=30)
    assert page.status_code == 200 and b"Intake" in page.content
    missing = requests.get(f"{base}/surveys/?s=NOTAREALHASH", timeout=30)
    assert missing.status_code == 404 and missing.content != APACHE_404


def test_4_choices_round_trip_through_csv(server):
    """The same choices through a CSV dictionary import keep their spaces too."""
    api = create_project(server, "Choices CSV")
    csv = (
        "field_name,form_name,section_header,field_type,field_label,"
        "select_choices_or_calculations\n"
        'record_id,form_1,,text,ID,\nanswer,form_1,,dropdown,Answer,"1, Yup | 2, Nope"\n'
    )
    assert api.ok(content="metadata", action="import", format="csv", data=csv).text == "2"
    exported = api.json(content="metadata")
    assert json.dumps(exported[1]["select_choices_or_calculations"]) == '"1, Yup | 2, Nope"'


def test_10_export_logging_takes_24_00_as_the_end_of_the_day(server):
    """REDCapR's redcap_log_read asks for whole days as ``beginTime=D 00:00`` and
    ``endTime=D 24:00``; REDCap answers with that day's log (log-read/2024-10-11.R). 24:00 is
    the next day's midnight, as PHP reads it; 24:01 or 25:00 are still not a time."""
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": "1", "first_name": "Ann"}])
    last = api.json(content="log")[-1]
    day = last["timestamp"][:10]
    whole_day = api.json(content="log", beginTime=f"{day} 00:00", endTime=f"{day} 24:00")
    assert last in whole_day
    assert any(e["action"] == "Create record (API) 1" for e in whole_day)
    assert api.json(content="log", beginTime=f"{day} 24:00") == []
    for bad in (f"{day} 24:01", f"{day} 25:00", f"{day} 24:00:01", "2024-13-01 24:00"):
        answer = api.call(content="log", format="json", endTime=bad)
        assert answer.status_code == 400 and "endTime" in answer.text, bad
