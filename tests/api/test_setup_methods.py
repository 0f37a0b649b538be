"""The setup and read methods clients use, exported back in json, csv and xml."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from builders import CLINICAL_DICTIONARY, clinical_classic, clinical_longitudinal, create_project


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def xml_items(text: str) -> list[dict[str, str]]:
    root = ET.fromstring(text.encode())
    return [{child.tag: (child.text or "") for child in item} for item in root]


def test_create_project_gives_a_token_and_a_first_instrument(server):
    api = create_project(server, "Brand new")
    info = api.json(content="project")
    assert info["project_title"] == "Brand new"
    assert info["is_longitudinal"] == 0
    assert api.json(content="instrument") == [
        {"instrument_name": "my_first_instrument", "instrument_label": "My first instrument"}
    ]
    assert api.json(content="metadata")[0]["field_name"] == "record_id"


def test_create_project_without_title_is_rejected(server):
    response = server.post(
        token=server.super_token,
        content="project",
        format="json",
        data='[{"purpose": 0}]',
    )
    assert response.status_code == 400
    assert "project_title" in response.json()["error"]


def test_metadata_round_trip_in_every_format(server):
    api = clinical_classic(server, repeating=False)
    exported = api.json(content="metadata")
    assert [row["field_name"] for row in exported] == [f["field_name"] for f in CLINICAL_DICTIONARY]
    sex = next(row for row in exported if row["field_name"] == "sex")
    # REDCap writes choices back as they were imported, spaces kept (REDCapR's recording)
    assert sex["select_choices_or_calculations"] == "0, Female | 1, Male"
    assert next(r for r in exported if r["field_name"] == "dob")["identifier"] == "y"
    as_csv = csv_rows(api.ok(content="metadata", format="csv").text)
    as_xml = xml_items(api.ok(content="metadata", format="xml").text)
    assert as_csv == exported
    assert as_xml == exported
    # Importing the CSV export back gives the same dictionary.
    count = api.ok(
        content="metadata",
        format="csv",
        action="import",
        data=api.ok(content="metadata", format="csv").text,
        returnFormat="json",
    )
    assert count.json() == len(CLINICAL_DICTIONARY)
    assert api.json(content="metadata") == exported


def test_metadata_filters(server):
    api = clinical_classic(server, repeating=False)
    rows = api.json(content="metadata", **{"fields[0]": "sex", "forms[0]": "visit"})
    assert [r["field_name"] for r in rows] == [
        "sex",
        "weight",
        "height",
        "bmi",
        "visit_ok",
        "scan",
        "signature",
    ]
    bad = api.call(content="metadata", format="json", **{"fields[0]": "nope"})
    assert bad.status_code == 400 and "nope" in bad.json()["error"]


def test_bad_metadata_is_rejected_and_nothing_changes(server):
    api = create_project(server)
    before = api.json(content="metadata")
    bad = [
        {"field_name": "record_id", "form_name": "f", "field_type": "text"},
        {"field_name": "Bad Name", "form_name": "f", "field_type": "text"},
        {"field_name": "x", "form_name": "f", "field_type": "radio"},
        {"field_name": "y", "form_name": "f", "field_type": "wheel"},
        {
            "field_name": "z",
            "form_name": "f",
            "field_type": "text",
            "text_validation_type_or_show_slider_number": "date_xyz",
        },
    ]
    response = api.call(content="metadata", format="json", data=__import__("json").dumps(bad))
    assert response.status_code == 400
    message = response.json()["error"]
    for fragment in ("Bad Name", "needs choices", "'wheel'", "'date_xyz'"):
        assert fragment in message
    assert api.json(content="metadata") == before


def test_bad_json_data_is_a_400(server):
    api = create_project(server)
    response = api.call(content="metadata", format="json", data="[{not json")
    assert response.status_code == 400
    assert "error" in response.json()


def test_field_names_expand_checkboxes(server):
    api = clinical_classic(server)
    rows = api.json(content="exportFieldNames")
    race = [r for r in rows if r["original_field_name"] == "race"]
    assert race == [
        {"original_field_name": "race", "choice_value": c, "export_field_name": f"race___{c}"}
        for c in ("1", "2", "3", "98")
    ]
    one = api.json(content="exportFieldNames", field="sex")
    assert one == [{"original_field_name": "sex", "choice_value": "", "export_field_name": "sex"}]


def test_classic_projects_refuse_arm_event_mapping_exports(server):
    api = create_project(server)
    for content, what in [
        ("arm", "arms"),
        ("event", "events"),
        ("formEventMapping", "form/event mappings"),
    ]:
        response = api.call(content=content, format="json")
        assert response.status_code == 400
        assert response.json() == {"error": f"You cannot export {what} for classic projects"}
    csv_response = api.call(content="arm", format="csv")
    assert csv_response.text == "ERROR: You cannot export arms for classic projects"


def test_arms_events_mappings_round_trip(server):
    api = clinical_longitudinal(server)
    assert api.json(content="arm") == [
        {"arm_num": 1, "name": "Drug"},
        {"arm_num": 2, "name": "Placebo"},
    ]
    events = api.json(content="event")
    assert [(e["event_name"], e["arm_num"], e["unique_event_name"]) for e in events] == [
        ("Baseline", 1, "baseline_arm_1"),
        ("Visit 2", 1, "visit_2_arm_1"),
        ("Baseline", 2, "baseline_arm_2"),
    ]
    assert all(isinstance(e["event_id"], int) for e in events)
    assert api.json(content="event", **{"arms[0]": "2"})[0]["unique_event_name"] == "baseline_arm_2"
    mapping = api.json(content="formEventMapping")
    assert {"arm_num": 1, "unique_event_name": "visit_2_arm_1", "form": "visit"} in mapping
    assert len(mapping) == 6
    assert csv_rows(api.ok(content="formEventMapping", format="csv").text) == [
        {k: str(v) for k, v in m.items()} for m in mapping
    ]
    assert api.json(content="repeatingFormsEvents") == [
        {"event_name": "baseline_arm_1", "form_name": "adverse_events", "custom_form_label": ""},
        {"event_name": "visit_2_arm_1", "form_name": "", "custom_form_label": ""},
    ]
    assert api.json(content="project")["has_repeating_instruments_or_events"] == 1


def test_event_delete_and_arm_delete(server):
    api = clinical_longitudinal(server)
    assert (
        api.ok(
            content="event", action="delete", format="json", **{"events[0]": "visit_2_arm_1"}
        ).json()
        == 1
    )
    assert [e["unique_event_name"] for e in api.json(content="event")] == [
        "baseline_arm_1",
        "baseline_arm_2",
    ]
    assert api.ok(content="arm", action="delete", format="json", **{"arms[0]": "2"}).json() == 1
    assert api.json(content="arm") == [{"arm_num": 1, "name": "Drug"}]
    assert [e["unique_event_name"] for e in api.json(content="event")] == ["baseline_arm_1"]


def test_mapping_errors(server):
    api = clinical_longitudinal(server)
    response = api.call(
        content="formEventMapping",
        action="import",
        format="json",
        data='[{"arm_num": 1, "unique_event_name": "nope_arm_1", "form": "visit"}]',
    )
    assert response.status_code == 400
    assert "nope_arm_1" in response.json()["error"]


def test_dags_and_user_dag_assignment(server):
    api = create_project(server)
    assert api.json(content="dag") == []
    header = api.ok(content="dag", format="csv").text
    assert header == "data_access_group_name,unique_group_name,data_access_group_id\n"
    assert (
        api.import_json(
            "dag",
            [
                {"data_access_group_name": "New DAG", "unique_group_name": ""},
                {"data_access_group_name": "dag-a", "unique_group_name": ""},
            ],
        )
        == 2
    )
    dags = api.json(content="dag")
    assert [(d["data_access_group_name"], d["unique_group_name"]) for d in dags] == [
        ("New DAG", "new_dag"),
        ("dag-a", "daga"),
    ]
    assert api.import_json("user", [{"username": "someone"}]) == 1
    assert (
        api.import_json(
            "userDagMapping", [{"username": "someone", "redcap_data_access_group": "new_dag"}]
        )
        == 1
    )
    mapping = {
        m["username"]: m["redcap_data_access_group"] for m in api.json(content="userDagMapping")
    }
    assert mapping == {"admin": "", "someone": "new_dag"}
    users = {u["username"]: u for u in api.json(content="user")}
    assert users["someone"]["data_access_group"] == "new_dag"
    assert (
        api.ok(content="dag", action="delete", format="json", **{"dags[0]": "new_dag"}).json() == 1
    )
    assert [d["unique_group_name"] for d in api.json(content="dag")] == ["daga"]


def test_users_with_per_instrument_export_rights(server):
    api = clinical_classic(server)
    count = api.import_json(
        "user",
        [
            {
                "username": "reader",
                "email": "r@example.org",
                "api_export": 1,
                "forms": {"demographics": 1, "visit": 2, "adverse_events": 0},
                "forms_export": {"demographics": 2, "visit": 3, "adverse_events": 0},
            }
        ],
    )
    assert count == 1
    users = {u["username"]: u for u in api.json(content="user")}
    reader = users["reader"]
    assert reader["forms_export"] == {"demographics": 2, "visit": 3, "adverse_events": 0}
    assert reader["forms"] == {"demographics": 1, "visit": 2, "adverse_events": 0}
    assert reader["api_export"] == 1 and reader["api_import"] == 0
    assert users["admin"]["forms_export"] == {"demographics": 1, "visit": 1, "adverse_events": 1}
    as_csv = {r["username"]: r for r in csv_rows(api.ok(content="user", format="csv").text)}
    assert as_csv["reader"]["forms_export"] == "demographics:2,visit:3,adverse_events:0"
    # The CSV form of rights imports too (legacy data_export applies to every instrument).
    csv_import = "username,data_export,forms\nlegacy,2,demographics:1\n"
    assert api.ok(content="user", format="csv", data=csv_import, returnFormat="json").json() == 1
    legacy = {u["username"]: u for u in api.json(content="user")}["legacy"]
    assert legacy["forms_export"] == {"demographics": 2, "visit": 2, "adverse_events": 2}


def test_user_import_rejects_unknown_forms(server):
    api = clinical_classic(server)
    response = api.call(
        content="user", format="json", data='[{"username": "x", "forms_export": {"nope": 1}}]'
    )
    assert response.status_code == 400
    assert "nope" in response.json()["error"]
    assert "x" not in {u["username"] for u in api.json(content="user")}


def test_project_info_import(server):
    api = create_project(server)
    count = api.ok(
        content="project_settings",
        format="json",
        data='{"project_title": "Renamed", "project_irb_number": "IRB-9"}',
    )
    assert count.json() == 2
    info = api.json(content="project")
    assert info["project_title"] == "Renamed" and info["project_irb_number"] == "IRB-9"
    assert xml_items(api.ok(content="project", format="xml").text)[0]["project_title"] == "Renamed"


def test_mapping_import_replaces_every_arms_mapping(server):
    # PyCap's integration test against real REDCap: import one row, export exactly one.
    api = clinical_longitudinal(server)
    assert (
        api.import_json(
            "formEventMapping",
            [{"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "demographics"}],
        )
        == 1
    )
    assert api.json(content="formEventMapping") == [
        {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "demographics"}
    ]


def test_exported_events_import_back_after_an_arm_override(server):
    # PyCap's integration test: override the arms (events go), then import the exported events.
    api = clinical_longitudinal(server)
    events = api.json(content="event")
    assert (
        api.import_json(
            "arm", [{"arm_num": 1, "name": "A"}, {"arm_num": 2, "name": "B"}], override=1
        )
        == 2
    )
    assert api.json(content="event") == []
    assert api.import_json("event", events) == 3
    assert [e["unique_event_name"] for e in api.json(content="event")] == [
        e["unique_event_name"] for e in events
    ]
