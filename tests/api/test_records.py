"""Import, Export and Delete Records: flat rows, validation, all-or-nothing writes."""

from __future__ import annotations

import csv
import io
import json

from builders import CLINICAL_DICTIONARY, Api, clinical_classic, clinical_longitudinal


def import_records(api: Api, rows, **params):
    return api.call(
        content="record", action="import", format="json", data=json.dumps(rows), **params
    )


def test_import_then_export_classic(server):
    api = clinical_classic(server)
    response = import_records(
        api,
        [
            {
                "record_id": "1",
                "first_name": "Ann",
                "sex": "0",
                "race___1": "1",
                "race___3": "1",
                "weight": "70.5",
                "height": "1.7",
            },
            {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": "1",
                "ae_term": "Rash",
                "ae_grade": "2",
            },
            {"record_id": "10", "first_name": "Bob"},
            {"record_id": "2", "first_name": "Cy", "consent": "1"},
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 3}
    rows = api.json(content="record")
    # Natural record order (2 before 10); the repeating instrument's row after the record's row.
    assert [
        (r["record_id"], r["redcap_repeat_instrument"], r["redcap_repeat_instance"]) for r in rows
    ] == [
        ("1", "", ""),
        ("1", "adverse_events", 1),
        ("2", "", ""),
        ("10", "", ""),
    ]
    first = rows[0]
    assert list(first)[:3] == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance"]
    assert first["race___1"] == "1" and first["race___2"] == "0" and first["race___98"] == "0"
    assert first["demographics_complete"] == "0"  # a form with data gets Incomplete
    assert first["ae_term"] == ""  # a repeating instrument's fields only on its own rows
    ae = rows[1]
    assert ae["ae_term"] == "Rash" and ae["first_name"] == "" and ae["race___1"] == ""
    assert ae["adverse_events_complete"] == "0" and ae["demographics_complete"] == ""


def test_export_labels_and_fields(server):
    api = clinical_classic(server)
    import_records(
        api,
        [
            {
                "record_id": "1",
                "sex": "1",
                "race___2": "1",
                "consent": "0",
                "visit_ok": "1",
                "demographics_complete": "2",
            }
        ],
    )
    rows = api.json(
        content="record",
        rawOrLabel="label",
        **{
            "fields[0]": "sex",
            "fields[1]": "race",
            "fields[2]": "consent",
            "fields[3]": "visit_ok",
            "fields[4]": "demographics_complete",
            "fields[5]": "record_id",
        },
    )
    assert rows == [
        {
            "record_id": "1",
            "redcap_repeat_instrument": "",
            "redcap_repeat_instance": "",
            "sex": "Male",
            "race___1": "Unchecked",
            "race___2": "Checked",
            "race___3": "Unchecked",
            "race___98": "Unchecked",
            "consent": "No",
            "demographics_complete": "Complete",
            "visit_ok": "True",
        }
    ]
    # Dictionary order, whatever order the fields were asked in.
    assert list(rows[0])[3:] == [
        "sex",
        "race___1",
        "race___2",
        "race___3",
        "race___98",
        "consent",
        "demographics_complete",
        "visit_ok",
    ]
    labelled = api.json(
        content="record", rawOrLabel="label", exportCheckboxLabel="true", **{"fields[0]": "race"}
    )
    assert labelled[0]["race___2"] == "Black" and labelled[0]["race___1"] == ""


def test_csv_label_headers(server):
    api = clinical_classic(server, repeating=False)
    import_records(api, [{"record_id": "1", "sex": "1", "race___2": "1"}])
    text = api.ok(
        content="record",
        format="csv",
        rawOrLabelHeaders="label",
        **{"fields[0]": "sex", "fields[1]": "race", "fields[2]": "record_id"},
    ).text
    header = next(csv.reader(io.StringIO(text)))
    assert header == [
        "Record ID",
        "Sex",
        "Race (choice=White)",
        "Race (choice=Black)",
        "Race (choice=Asian)",
        "Race (choice=Other)",
    ]


def test_invalid_values_are_all_reported_and_nothing_written(server):
    api = clinical_classic(server)
    response = import_records(
        api,
        [
            {"record_id": "1", "sex": "7"},
            {"record_id": "2", "dob": "2020-13-45"},
            {"record_id": "3", "email": "not-an-email"},
            {"record_id": "4", "race___1": "yes"},
        ],
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert '"1","sex","7","The value is not a valid category for sex"' in error
    assert '"2","dob","2020-13-45"' in error
    assert '"3","email","not-an-email"' in error
    assert '"4","race___1","yes"' in error
    assert api.json(content="record") == []


def test_unknown_fields_are_rejected(server):
    api = clinical_classic(server)
    response = import_records(api, [{"record_id": "1", "non_existent_key": "x"}])
    assert response.status_code == 400
    assert response.json() == {
        "error": "The following fields were not found in the project as real data fields: non_existent_key"
    }


def test_overwrite_behavior(server):
    api = clinical_classic(server)
    import_records(api, [{"record_id": "1", "first_name": "Ann", "notes": "keep"}])
    import_records(api, [{"record_id": "1", "first_name": "Anna", "notes": ""}])
    row = api.json(content="record")[0]
    assert (row["first_name"], row["notes"]) == ("Anna", "keep")
    import_records(api, [{"record_id": "1", "notes": ""}], overwriteBehavior="overwrite")
    assert api.json(content="record")[0]["notes"] == ""


def test_import_formats_and_return_content(server):
    api = clinical_classic(server)
    csv_data = 'record_id,first_name,sex\n5,Eve,0\n6,"Fr, ed",1\n'
    response = api.call(content="record", format="csv", data=csv_data)
    assert response.status_code == 200 and response.text == "2"
    xml_data = (
        '<?xml version="1.0" encoding="UTF-8" ?><records><item><record_id>7</record_id>'
        "<first_name><![CDATA[Gil]]></first_name></item></records>"
    )
    response = api.call(content="record", format="xml", data=xml_data)
    assert response.status_code == 200
    assert response.text == '<?xml version="1.0" encoding="UTF-8" ?><count>1</count>'
    ids = import_records(
        api, [{"record_id": "8"}, {"record_id": "9", "sex": "1"}], returnContent="ids"
    )
    assert ids.json() == ["8", "9"]
    auto = import_records(
        api,
        [{"record_id": "x", "first_name": "Auto"}],
        forceAutoNumber="true",
        returnContent="auto_ids",
    )
    assert auto.json() == ["10,x"]
    names = {r["record_id"]: r["first_name"] for r in api.json(content="record")}
    assert names["6"] == "Fr, ed" and names["10"] == "Auto"


def test_date_format_parameter(server):
    api = clinical_classic(server)
    response = import_records(api, [{"record_id": "1", "dob": "12/31/1999"}], dateFormat="MDY")
    assert response.status_code == 200, response.text
    assert api.json(content="record")[0]["dob"] == "1999-12-31"


def test_longitudinal_rows_events_and_repeats(server):
    api = clinical_longitudinal(server)
    response = import_records(
        api,
        [
            {
                "record_id": "1",
                "redcap_event_name": "baseline_arm_1",
                "first_name": "Ann",
                "weight": "70",
            },
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instance": "2",
                "weight": "72",
            },
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instance": "1",
                "weight": "71",
            },
            {
                "record_id": "1",
                "redcap_event_name": "baseline_arm_1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": "1",
                "ae_term": "Cough",
            },
            {"record_id": "2", "redcap_event_name": "baseline_arm_2", "first_name": "Bo"},
        ],
    )
    assert response.status_code == 200, response.text
    rows = api.json(content="record")
    assert [
        (
            r["record_id"],
            r["redcap_event_name"],
            r["redcap_repeat_instrument"],
            r["redcap_repeat_instance"],
        )
        for r in rows
    ] == [
        ("1", "baseline_arm_1", "", ""),
        ("1", "baseline_arm_1", "adverse_events", 1),
        ("1", "visit_2_arm_1", "", 1),
        ("1", "visit_2_arm_1", "", 2),
        ("2", "baseline_arm_2", "", ""),
    ]
    assert rows[2]["weight"] == "71" and rows[2]["first_name"] == ""
    labelled = api.json(content="record", rawOrLabel="label", **{"events[0]": "baseline_arm_2"})
    assert [r["redcap_event_name"] for r in labelled] == ["Baseline (Arm 2: Placebo)"]


def test_field_not_designated_for_event_is_rejected(server):
    api = clinical_longitudinal(server)
    response = import_records(
        api, [{"record_id": "1", "redcap_event_name": "visit_2_arm_1", "first_name": "X"}]
    )
    assert response.status_code == 400
    assert "first_name" in response.json()["error"]


def test_delete_records(server):
    api = clinical_classic(server)
    import_records(api, [{"record_id": str(i), "first_name": "x"} for i in range(1, 4)])
    response = api.call(content="record", action="delete", **{"records[0]": "1", "records[1]": "2"})
    assert response.status_code == 200 and response.text == "2"
    assert [r["record_id"] for r in api.json(content="record")] == ["3"]
    missing = api.call(content="record", action="delete", returnFormat="csv", **{"records[0]": "1"})
    assert missing.status_code == 400
    assert missing.text == (
        "ERROR: One or more of the records provided cannot be deleted because they do not exist "
        "in the project. The following records do not exist: 1"
    )


def test_rights_on_records(server):
    api = clinical_classic(server)
    api.import_json(
        "user", [{"username": "viewer", "api_export": 1, "api_import": 0, "record_delete": 0}]
    )
    from localcap.db.tokens import create_project_token

    pid = int(api.json(content="project")["project_id"])
    with server.engine.begin() as conn:  # no request inside: this holds the write lock
        token = create_project_token(conn, pid, "viewer")
    viewer = Api(server, token)
    response = import_records(viewer, [{"record_id": "1"}])
    assert response.status_code == 403
    assert response.json() == {"error": "You do not have API Import/Update privileges"}
    response = viewer.call(content="record", action="delete", format="csv", **{"records[0]": "1"})
    assert response.status_code == 403
    assert response.text == "ERROR: You do not have Delete Record privileges"


def test_filter_logic_on_export_records(server):
    # PyCap's doctest: export_records(filter_logic="[field_1] = 1") keeps the matching rows.
    api = clinical_longitudinal(server)
    import_records(
        api,
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "sex": "1", "weight": "80"},
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instance": "1",
                "weight": "82",
            },
            {"record_id": "2", "redcap_event_name": "baseline_arm_1", "sex": "0", "weight": "60"},
        ],
    )
    rows = api.json(content="record", filterLogic="[weight] > 70")
    assert [(r["record_id"], r["redcap_event_name"]) for r in rows] == [
        ("1", "baseline_arm_1"),
        ("1", "visit_2_arm_1"),
    ]
    cross = api.json(content="record", filterLogic="[baseline_arm_1][sex] = '1'")
    assert {r["record_id"] for r in cross} == {"1"}
    bad = api.call(content="record", format="json", filterLogic="[nope] = 1")
    assert bad.status_code == 400 and "nope" in bad.json()["error"]


def test_a_record_imported_with_its_id_alone_exists(server):
    api = clinical_classic(server)
    assert import_records(api, [{"record_id": "7"}]).json() == {"count": 1}
    rows = api.json(content="record")
    assert [(r["record_id"], r["first_name"], r["demographics_complete"]) for r in rows] == [
        ("7", "", "0")
    ]


def test_deleting_a_record_deletes_its_files(server):
    from sqlalchemy import func, select

    from localcap.db import schema as t

    api = clinical_classic(server)
    import_records(api, [{"record_id": "1", "first_name": "Ann"}])
    upload = api.call(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("scan.bin", b"\x00\x01secret bytes")},
    )
    assert upload.status_code == 200, upload.text
    pid = api.json(content="project")["project_id"]

    def documents() -> int:
        with server.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(t.documents).where(t.documents.c.project_id == pid)
            ).scalar()

    assert documents() == 1
    with server.engine.connect() as conn:
        key = conn.execute(
            select(t.documents.c.store_key).where(t.documents.c.project_id == pid)
        ).scalar()
    store_path = next(server.data_dir.rglob(key))
    assert store_path.exists()
    assert api.call(content="record", action="delete", **{"records[0]": "1"}).text == "1"
    assert documents() == 0
    assert not store_path.exists()


def test_generate_next_record_name(server):
    # REDCapR's recorded behaviour: max numeric id + 1; "<group_id>-<n>" for a DAG user.
    api = clinical_classic(server)
    assert api.ok(content="generateNextRecordName").text == "1"
    import_records(api, [{"record_id": "9"}, {"record_id": "x"}, {"record_id": "10"}])
    assert api.ok(content="generateNextRecordName").text == "11"
    api.import_json("dag", [{"data_access_group_name": "Site", "unique_group_name": ""}])
    group_id = api.json(content="dag")[0]["data_access_group_id"]
    api.import_json("user", [{"username": "site_user", "api_export": 1}])
    api.import_json(
        "userDagMapping", [{"username": "site_user", "redcap_data_access_group": "site"}]
    )
    from localcap.db.tokens import create_project_token

    pid = int(api.json(content="project")["project_id"])
    with server.engine.begin() as conn:  # no request inside: this holds the write lock
        token = create_project_token(conn, pid, "site_user")
    site = Api(server, token)
    assert site.ok(content="generateNextRecordName").text == f"{group_id}-1"


def test_a_record_imported_into_events_without_values_has_a_row_per_event(server):
    # PyCap's integration test against real REDCap: two events named, two rows exported.
    api = clinical_longitudinal(server)
    import_records(
        api,
        [
            {"record_id": "3", "redcap_event_name": "baseline_arm_1"},
            {"record_id": "3", "redcap_event_name": "visit_2_arm_1", "redcap_repeat_instance": "1"},
        ],
    )
    rows = api.json(content="record", **{"records[0]": "3"})
    assert [r["redcap_event_name"] for r in rows] == ["baseline_arm_1", "visit_2_arm_1"]
    assert (
        api.call(
            content="record", action="delete", event="visit_2_arm_1", **{"records[0]": "3"}
        ).text
        == "1"
    )
    assert len(api.json(content="record", **{"records[0]": "3"})) == 1


def test_csv_quotes_values_that_a_later_validation_change_made_unusual(server):
    # The CSV writer trusts number/date/code columns to be plain only as a speed hint: a value
    # stored before its field became integer-validated still gets PHP fputcsv's quoting.
    api = clinical_classic(server, repeating=False)
    import_records(api, [{"record_id": "1", "weight": "70", "first_name": "Ann"}])
    changed = [dict(row) for row in CLINICAL_DICTIONARY]
    import_records(api, [{"record_id": "2", "first_name": "Bo"}])
    for row in changed:
        if row["field_name"] == "first_name":
            row["text_validation_type_or_show_slider_number"] = "integer"
    api.ok(content="metadata", format="json", data=__import__("json").dumps(changed))
    text = api.ok(
        content="record", format="csv", **{"fields[0]": "record_id", "fields[1]": "first_name"}
    ).text
    assert text.splitlines()[1:] == ["1,Ann", "2,Bo"]
    with_space = [dict(row) for row in CLINICAL_DICTIONARY]
    api.ok(content="metadata", format="json", data=__import__("json").dumps(with_space))
    import_records(api, [{"record_id": "3", "first_name": "C D"}])
    api.ok(content="metadata", format="json", data=__import__("json").dumps(changed))
    rows = api.ok(
        content="record", format="csv", **{"fields[0]": "record_id", "fields[1]": "first_name"}
    ).text.splitlines()
    assert rows[3] == '3,"C D"'


def test_fields_or_forms_without_the_record_id_leave_out_the_record_columns(server):
    """REDCap exports the record ID (and the event and repeat columns that come with it) only
    when it is among the fields asked for. Recorded on a real REDCap by REDCapR
    (``tests/testthat/test-read-oneshot.R``, ``specify-fields-without-record-id``: fields
    ``name_first,address,interpreter_needed`` give exactly those three columns;
    ``specify-forms-without-record-id``: forms ``health`` gives ``height`` ... ``health_complete``
    alone); PyCap's ``Records._backfill_fields`` adds the record ID itself for that reason."""
    api = clinical_longitudinal(server)
    import_records(
        api,
        [{"record_id": "1", "redcap_event_name": "baseline_arm_1", "first_name": "Ann"}],
    )
    text = api.ok(content="record", format="csv", **{"fields[0]": "first_name"}).text
    assert text.splitlines() == ["first_name", "Ann"]
    assert api.json(content="record", **{"forms[0]": "demographics"})[0]["record_id"] == "1"
    with_id = api.json(content="record", **{"fields[0]": "first_name", "fields[1]": "record_id"})
    assert list(with_id[0])[:2] == ["record_id", "redcap_event_name"]
    everything = api.json(content="record")
    assert list(everything[0])[:2] == ["record_id", "redcap_event_name"]


def test_rename_record(server):
    api = clinical_longitudinal(server)
    import_records(
        api,
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "first_name": "Ann"},
            {"record_id": "2", "redcap_event_name": "baseline_arm_1", "first_name": "Bo"},
        ],
    )
    assert api.ok(content="record", action="rename", record="1", new_record_name="A-1").text == "1"
    rows = api.json(content="record", **{"fields[0]": "record_id", "fields[1]": "first_name"})
    assert [(r["record_id"], r["first_name"]) for r in rows] == [("2", "Bo"), ("A-1", "Ann")]
    taken = api.call(
        content="record", action="rename", record="2", new_record_name="A-1", returnFormat="json"
    )
    assert taken.status_code == 400 and "already exists" in taken.json()["error"]
    missing = api.call(
        content="record", action="rename", record="9", new_record_name="x", returnFormat="json"
    )
    assert missing.status_code == 400 and missing.json() == {
        "error": 'The record "9" does not exist'
    }


def test_date_range_keeps_records_changed_in_it(server):
    import time

    api = clinical_classic(server)
    import_records(api, [{"record_id": "1", "first_name": "old"}])
    time.sleep(1.1)
    from datetime import datetime

    middle = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    time.sleep(1.1)
    import_records(api, [{"record_id": "2", "first_name": "new"}])
    after = api.json(content="record", dateRangeBegin=middle)
    assert [r["record_id"] for r in after] == ["2"]
    before = api.json(content="record", dateRangeEnd=middle)
    assert [r["record_id"] for r in before] == ["1"]
    bad = api.call(content="record", format="json", dateRangeBegin="yesterday")
    assert bad.status_code == 400 and "dateRangeBegin" in bad.json()["error"]
