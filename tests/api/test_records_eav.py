"""Export and Import Records with ``type=eav``: one row per stored value.

The expected shapes follow what REDCapR recorded from a real REDCap (its
``read-eav-oneshot`` fixtures): blanks left out, one row per checked checkbox option, the form
status only where one is stored, file fields as their document id.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

from builders import Api, clinical_classic, clinical_longitudinal
from localcap.db.tokens import create_project_token


def import_flat(api: Api, rows: list[dict[str, str]]) -> None:
    response = api.call(content="record", action="import", format="json", data=json.dumps(rows))
    assert response.status_code == 200, response.text


def eav(api: Api, **params: str) -> list[dict[str, str]]:
    return api.json(content="record", type="eav", **params)


def test_classic_export_is_one_row_per_stored_value(server):
    api = clinical_classic(server)
    import_flat(
        api,
        [
            {"record_id": "1", "first_name": "Ann", "race___1": "1", "race___3": "1", "sex": "0"},
            {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": "2",
                "ae_grade": "3",
            },
            {"record_id": "2", "first_name": "Bo"},
        ],
    )
    rows = eav(api)
    # Columns: record, the repeat columns (the project repeats), field_name, value.
    assert list(rows[0]) == [
        "record",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "field_name",
        "value",
    ]
    assert [(r["record"], r["field_name"], r["value"]) for r in rows] == [
        ("1", "record_id", "1"),
        ("1", "first_name", "Ann"),
        ("1", "sex", "0"),
        ("1", "race", "1"),
        ("1", "race", "3"),
        ("1", "demographics_complete", "0"),
        ("1", "record_id", "1"),
        ("1", "ae_grade", "3"),
        ("1", "adverse_events_complete", "0"),
        ("2", "record_id", "2"),
        ("2", "first_name", "Bo"),
        ("2", "demographics_complete", "0"),
    ]
    ae_rows = [r for r in rows if r["redcap_repeat_instrument"]]
    assert {(r["redcap_repeat_instrument"], r["redcap_repeat_instance"]) for r in ae_rows} == {
        ("adverse_events", 2)
    }


def test_labels_fields_and_records_select_like_the_flat_export(server):
    api = clinical_classic(server, repeating=False)
    import_flat(
        api,
        [
            {"record_id": "1", "first_name": "Ann", "sex": "1", "race___98": "1", "weight": "70"},
            {"record_id": "2", "first_name": "Bo", "sex": "0"},
        ],
    )
    rows = eav(api, rawOrLabel="label", **{"fields[0]": "sex", "fields[1]": "race"})
    assert [(r["record"], r["field_name"], r["value"]) for r in rows] == [
        ("1", "record_id", "1"),
        ("1", "sex", "Male"),
        ("1", "race", "Other"),
        ("2", "record_id", "2"),
        ("2", "sex", "Female"),
    ]
    only_two = eav(api, **{"records[0]": "2", "forms[0]": "visit"})
    assert only_two == []  # record 2 has nothing on the visit form


def test_longitudinal_export_names_the_event(server):
    api = clinical_longitudinal(server)
    import_flat(
        api,
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "weight": "70"},
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instance": "2",
                "weight": "72",
            },
        ],
    )
    text = api.ok(content="record", type="eav", format="csv").text
    assert text.splitlines()[0] == (
        "record,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,field_name,value"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [
        (r["redcap_event_name"], r["redcap_repeat_instance"], r["field_name"], r["value"])
        for r in rows
        if r["field_name"] == "weight"
    ] == [("baseline_arm_1", "", "weight", "70"), ("visit_2_arm_1", "2", "weight", "72")]


def test_xml_export(server):
    api = clinical_classic(server, repeating=False)
    import_flat(api, [{"record_id": "7", "first_name": "Zed"}])
    root = ET.fromstring(api.ok(content="record", type="eav", format="xml").content)
    items = [{child.tag: child.text or "" for child in item} for item in root]
    assert items[1] == {"record": "7", "field_name": "first_name", "value": "Zed"}


def test_export_rights_and_dags_apply(server):
    api = clinical_classic(server, repeating=False)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    import_flat(
        api,
        [
            {
                "record_id": "1",
                "first_name": "Ann",
                "sex": "0",
                "redcap_data_access_group": "site_a",
            },
            {"record_id": "2", "first_name": "Bo", "sex": "1"},
        ],
    )
    api.import_json(
        "user",
        [
            {
                "username": "site_user",
                "api_export": 1,
                "forms_export": {"demographics": 3, "visit": 1, "adverse_events": 1},
            }
        ],
    )
    api.import_json(
        "userDagMapping", [{"username": "site_user", "redcap_data_access_group": "site_a"}]
    )
    pid = int(api.json(content="project")["project_id"])
    with server.engine.begin() as conn:  # no request inside: this holds the write lock
        token = create_project_token(conn, pid, "site_user")
    rows = eav(Api(server, token))
    # Only the DAG's record; the identifier first_name is removed (Remove Identifiers).
    assert [(r["record"], r["field_name"], r["value"]) for r in rows] == [
        ("1", "record_id", "1"),
        ("1", "sex", "0"),
        ("1", "demographics_complete", "0"),
    ]
    with_dags = eav(api, exportDataAccessGroups="true")
    assert ("1", "redcap_data_access_group", "site_a") in [
        (r["record"], r["field_name"], r["value"]) for r in with_dags
    ]


def test_import_eav_rows(server):
    api = clinical_longitudinal(server)
    data = [
        {
            "record": "5",
            "redcap_event_name": "baseline_arm_1",
            "field_name": "first_name",
            "value": "Eve",
        },
        {"record": "5", "redcap_event_name": "baseline_arm_1", "field_name": "race", "value": "2"},
        {"record": "5", "redcap_event_name": "baseline_arm_1", "field_name": "race", "value": "98"},
        {
            "record": "5",
            "redcap_event_name": "visit_2_arm_1",
            "redcap_repeat_instance": "3",
            "field_name": "weight",
            "value": "80",
        },
    ]
    response = api.call(
        content="record", action="import", format="json", type="eav", data=json.dumps(data)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 1}
    flat = api.json(content="record", **{"records[0]": "5"})
    baseline = flat[0]
    assert baseline["first_name"] == "Eve"
    assert (baseline["race___1"], baseline["race___2"], baseline["race___98"]) == ("0", "1", "1")
    assert [
        (r["redcap_event_name"], r["redcap_repeat_instance"], r["weight"]) for r in flat[1:]
    ] == [("visit_2_arm_1", 3, "80")]
    # What EAV export gives back imports unchanged (a round trip).
    exported = api.ok(content="record", type="eav", format="csv").text
    response = api.call(content="record", action="import", format="csv", type="eav", data=exported)
    assert response.status_code == 200, response.text
    assert api.json(content="record", **{"records[0]": "5"}) == flat


def test_bad_eav_import_writes_nothing(server):
    api = clinical_classic(server, repeating=False)
    data = [
        {"record": "1", "field_name": "first_name", "value": "Ann"},
        {"record": "1", "field_name": "dob", "value": "not a date"},
    ]
    response = api.call(
        content="record", action="import", format="json", type="eav", data=json.dumps(data)
    )
    assert response.status_code == 400
    assert "dob" in response.json()["error"]
    missing = api.call(
        content="record",
        action="import",
        format="json",
        type="eav",
        data=json.dumps([{"record": "1", "value": "x"}]),
    )
    assert missing.status_code == 400
    assert "field_name" in missing.json()["error"]
    assert api.json(content="record") == []


def test_unknown_type_is_rejected(server):
    api = clinical_classic(server, repeating=False)
    response = api.call(content="record", format="json", type="wide")
    assert response.status_code == 400
    assert response.json() == {"error": 'The value of the parameter "type" is not valid'}
