"""What redcapAPI's own integration suite recorded from real REDCap (issue 15, items 10-18),
replayed over HTTP with the bodies redcapAPI sends. docs/CLIENTS.md ("What redcapAPI
expects") gives the evidence for each rule."""

from __future__ import annotations

import csv
import io

import requests

from builders import Api, create_project, field, user_api


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def info(api: Api) -> dict:
    return api.json(content="project")


def longitudinal_three_arms(api: Api) -> None:
    assert api.import_json("project_settings", [{"is_longitudinal": 1}]) == 1
    arms = [{"arm_num": n, "name": f"Arm {n}"} for n in (1, 2, 3)]
    assert api.import_json("arm", arms) == 3
    events = [{"event_name": "event_1", "arm_num": n} for n in (1, 2, 3)]
    assert api.import_json("event", events) == 3


# -- item 10 --------------------------------------------------------------------------------
def test_deleting_every_event_makes_the_project_classic(server):
    api = create_project(server)
    assert api.import_json("project_settings", [{"is_longitudinal": 1}]) == 1
    # The setting alone does not make a project longitudinal: it needs events.
    assert info(api)["is_longitudinal"] == 0
    longitudinal_three_arms(api)
    assert info(api)["is_longitudinal"] == 1
    names = {f"events[{i}]": f"event_1_arm_{i + 1}" for i in range(3)}
    assert api.json(content="event", action="delete", **names) == 3
    assert info(api)["is_longitudinal"] == 0
    # Arms and events can be imported again (the setting is still on) ...
    assert api.import_json("event", [{"event_name": "event_1", "arm_num": 1}]) == 1
    assert info(api)["is_longitudinal"] == 1
    # ... and deleting every arm makes the project classic too.
    arms = {f"arms[{i}]": str(i + 1) for i in range(3)}
    assert api.json(content="arm", action="delete", **arms) == 3
    assert info(api)["is_longitudinal"] == 0


def test_deleting_no_events_from_a_classic_project_answers_0(server):
    api = create_project(server)
    # redcapAPI's purge sends content=event&action=delete with no events to a classic project.
    response = api.call(content="event", action="delete", returnFormat="csv")
    assert response.status_code == 200, response.text
    assert response.text == "0"
    unknown = api.call(content="event", action="delete", format="json", **{"events[0]": "x"})
    assert unknown.status_code == 400
    assert "cannot export" not in unknown.json()["error"]


# -- item 11 --------------------------------------------------------------------------------
def test_importing_an_empty_repeating_setup_clears_it(server):
    api = create_project(server)
    api.import_json("metadata", [field("record_id", "record_id"), field("r", "repeating")])
    assert api.import_json("repeatingFormsEvents", [{"form_name": "repeating"}]) == 1
    assert info(api)["has_repeating_instruments_or_events"] == 1
    # redcapAPI writes an empty data frame as its CSV header alone.
    response = api.ok(
        content="repeatingFormsEvents",
        action="import",
        format="csv",
        returnFormat="csv",
        data='"event_name","form_name","custom_form_label"',
    )
    assert response.text == "0"
    assert api.json(content="repeatingFormsEvents") == []
    assert info(api)["has_repeating_instruments_or_events"] == 0


def test_repeating_setup_for_an_unknown_event(server):
    api = create_project(server)
    response = api.call(
        content="repeatingFormsEvents",
        action="import",
        format="csv",
        returnFormat="csv",
        data='"event_name","form_name","custom_form_label"\n"event_1_arm_1",,',
    )
    assert response.status_code == 400
    assert "event 'event_1_arm_1' is not available in project" in response.text


# -- item 12 --------------------------------------------------------------------------------
def test_project_info_has_the_redcap_15_8_field_set(server):
    api = create_project(server)
    exported = info(api)
    assert list(exported) == [
        "project_id",
        "project_title",
        "creation_time",
        "production_time",
        "in_production",
        "project_language",
        "purpose",
        "purpose_other",
        "project_notes",
        "custom_record_label",
        "secondary_unique_field",
        "is_longitudinal",
        "has_repeating_instruments_or_events",
        "surveys_enabled",
        "scheduling_enabled",
        "record_autonumbering_enabled",
        "randomization_enabled",
        "ddp_enabled",
        "project_irb_number",
        "project_grant_number",
        "project_pi_firstname",
        "project_pi_lastname",
        "project_pi_email",
        "display_today_now_button",
        "missing_data_codes",
        "external_modules",
        "bypass_branching_erase_field_prompt",
    ]
    # redcapAPI imports the exported info back, less the fixed fields: 19 on REDCap 15.8.2+.
    fixed = {
        "project_id",
        "creation_time",
        "production_time",
        "in_production",
        "has_repeating_instruments_or_events",
        "ddp_enabled",
        "missing_data_codes",
        "external_modules",
    }
    row = {k: v for k, v in exported.items() if k not in fixed}
    row["project_pi_email"] = "pi@example.org"
    assert api.import_json("project_settings", [row]) == 19
    assert info(api)["project_pi_email"] == "pi@example.org"


# -- item 13 --------------------------------------------------------------------------------
def test_import_users_form_lists_are_complete_and_blank_dag_unassigns(server):
    api = create_project(server)
    api.import_json(
        "metadata", [field("record_id", "record_id"), field("a", "form_a"), field("b", "form_b")]
    )
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    user_api(api, "bob", forms={"record_id": 1, "form_a": 1, "form_b": 1}, data_export=1)

    def bob() -> dict:
        return next(u for u in api.json(content="user") if u["username"] == "bob")

    assert bob()["forms"] == {"record_id": 1, "form_a": 1, "form_b": 1}
    # redcapAPI's consolidate = FALSE import: only record_id listed, forms_export blank.
    response = api.ok(
        content="user",
        action="import",
        format="csv",
        data='username,data_export,forms,forms_export\nbob,1,"record_id:2",""',
    )
    assert response.text == "1"
    assert bob()["forms"] == {"record_id": 2, "form_a": 0, "form_b": 0}
    assert bob()["forms_export"] == {"record_id": 0, "form_a": 0, "form_b": 0}

    assert api.import_json("user", [{"username": "bob", "data_access_group": "site_a"}]) == 1
    assert bob()["data_access_group"] == "site_a"
    assert api.import_json("user", [{"username": "bob", "data_access_group": ""}]) == 1
    assert bob()["data_access_group"] == ""
    # A row without the column leaves the DAG alone.
    api.import_json("user", [{"username": "bob", "data_access_group": "site_a"}])
    assert api.import_json("user", [{"username": "bob", "alerts": 1}]) == 1
    assert bob()["data_access_group"] == "site_a"


# -- item 14 --------------------------------------------------------------------------------
def test_renaming_a_dag_derives_a_new_unique_name(server):
    api = create_project(server)
    rows = [
        {"data_access_group_name": name, "unique_group_name": ""}
        for name in ("Testing DAG 1", "Testing DAG 2")
    ]
    assert api.import_json("dag", rows) == 2
    first = api.json(content="dag")[0]
    assert first["unique_group_name"] == "testing_dag_1"
    first["data_access_group_name"] = "A different name"
    assert api.import_json("dag", [first]) == 1
    dags = api.json(content="dag")
    assert [(d["data_access_group_name"], d["unique_group_name"]) for d in dags] == [
        ("A different name", "a_different_name"),
        ("Testing DAG 2", "testing_dag_2"),
    ]
    assert dags[0]["data_access_group_id"] == first["data_access_group_id"]


# -- item 15 --------------------------------------------------------------------------------
def test_auto_ids_in_csv_are_one_quoted_value_each(server):
    api = create_project(server)
    api.import_json("project_settings", [{"record_autonumbering_enabled": 1}])
    api.import_json("record", [{"record_id": "1"}])
    response = api.ok(
        content="record",
        action="import",
        format="csv",
        returnContent="auto_ids",
        forceAutoNumber="true",
        data="record_id\n1\n",
    )
    assert response.text == 'id\n"2,1"\n'
    assert csv_rows(response.text) == [{"id": "2,1"}]


# -- item 16 --------------------------------------------------------------------------------
def test_parameters_are_decoded_as_php_builds_post(server):
    api = create_project(server)
    api.import_json("metadata", [field("record_id", "record_id"), field("a", "record_id")])
    api.import_json("record", [{"record_id": "1", "a": "x"}])
    # The plain "fields" after the array replaces it: REDCap validates "nope".
    body = [
        ("token", api.token),
        ("content", "record"),
        ("format", "json"),
        ("fields[0]", "record_id"),
        ("fields[1]", "a"),
        ("fields", "nope"),
    ]
    for response in (
        requests.post(api.url, data=body, timeout=60),
        requests.post(api.url, files=[(k, (None, v)) for k, v in body], timeout=60),
    ):
        assert response.status_code == 400
        assert "nope" in response.json()["error"]
    # A later plain key wins over an earlier one; a[] and a[n] build arrays in order.
    body = [
        ("token", api.token),
        ("content", "record"),
        ("format", "csv"),
        ("format", "json"),
        ("fields", "nope"),
        ("fields[]", "a"),
        ("fields[5]", "record_id"),
    ]
    for response in (
        requests.post(api.url, data=body, timeout=60),
        requests.post(api.url, files=[(k, (None, v)) for k, v in body], timeout=60),
    ):
        assert response.status_code == 200, response.text
        assert response.json() == [{"record_id": "1", "a": "x"}]


# -- item 17 --------------------------------------------------------------------------------
def test_csv_import_with_a_repeated_column_uses_its_last_value(server):
    api = create_project(server, longitudinal=True)
    api.import_json("metadata", [field("record_id", "my_first_instrument"), field("x", "other")])
    api.import_json("event", [{"event_name": "Event 2", "arm_num": 1}])
    # redcapAPI's cbind of two mappings: every column twice; the second copy is used.
    response = api.ok(
        content="formEventMapping",
        action="import",
        format="csv",
        data=(
            '"arm_num","unique_event_name","form","arm_num","unique_event_name","form"\n'
            '1,"event_1_arm_1","my_first_instrument",1,"event_2_arm_1","my_first_instrument"\n'
        ),
    )
    assert response.text == "1"
    assert api.json(content="formEventMapping") == [
        {"arm_num": 1, "unique_event_name": "event_2_arm_1", "form": "my_first_instrument"}
    ]


# -- item 18 --------------------------------------------------------------------------------
def test_record_id_alone_lists_each_record_event_once(server):
    api = create_project(server)
    api.import_json(
        "metadata",
        [field("record_id", "record_id"), field("doc", "files", "file"), field("r", "files")],
    )
    api.import_json("repeatingFormsEvents", [{"form_name": "files"}])
    api.import_json("record", [{"record_id": str(i)} for i in (1, 2)])
    only_repeating = {"record_id": "3", "redcap_repeat_instrument": "files"}
    api.import_json("record", [{**only_repeating, "redcap_repeat_instance": "1", "r": "x"}])

    def ids() -> list[tuple[str, str, str]]:
        rows = csv_rows(api.ok(content="record", format="csv", **{"fields[0]": "record_id"}).text)
        return [tuple(row.values()) for row in rows]

    assert ids() == [("1", "", ""), ("2", "", ""), ("3", "", "")]
    # redcapAPI's importFileToRecord into an existing record's repeating instrument.
    response = requests.post(
        api.url,
        data={
            "token": api.token,
            "content": "file",
            "action": "import",
            "record": "2",
            "field": "doc",
            "returnFormat": "csv",
        },
        files={"file": ("a.txt", b"hello")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert ids() == [("1", "", ""), ("2", "", ""), ("3", "", "")]
    # Asking for the repeating instrument lists its rows.
    rows = api.json(content="record", **{"fields[0]": "record_id", "fields[1]": "r"})
    assert [(r["record_id"], r["redcap_repeat_instrument"]) for r in rows] == [
        ("1", ""),
        ("2", ""),
        ("2", "files"),
        ("3", "files"),
    ]


def test_a_dictionary_cut_and_restored_brings_designations_and_data_back(server):
    api = create_project(server, longitudinal=True)
    dictionary = [
        field("record_id", "my_first_instrument"),
        field("n", "numbers"),
        field("r", "repeats"),
    ]
    api.import_json("metadata", dictionary)
    mapping = [
        {"arm_num": 1, "unique_event_name": "event_1_arm_1", "form": form}
        for form in ("my_first_instrument", "numbers", "repeats")
    ]
    api.import_json("formEventMapping", mapping)
    repeating = [{"event_name": "event_1_arm_1", "form_name": "repeats", "custom_form_label": ""}]
    api.import_json("repeatingFormsEvents", repeating)
    event = {"record_id": "1", "redcap_event_name": "event_1_arm_1"}
    api.import_json(
        "record",
        [
            {**event, "n": "5"},
            {
                **event,
                "redcap_repeat_instrument": "repeats",
                "redcap_repeat_instance": "1",
                "r": "x",
            },
        ],
    )
    before = api.json(content="record")
    # Cut to two instruments (redcapAPI's zero-coded checkbox test), then restore.
    api.import_json("metadata", [dictionary[0], field("c", "checks")])
    assert api.json(content="formEventMapping") == [mapping[0]]
    assert api.json(content="repeatingFormsEvents") == []
    assert all("n" not in row for row in api.json(content="record"))
    api.import_json("metadata", dictionary)
    assert api.json(content="formEventMapping") == mapping
    assert api.json(content="repeatingFormsEvents") == repeating
    assert api.json(content="record") == before


# -- further REDCap behaviours the suite relies on ------------------------------------------
def test_a_new_events_unique_name_fits_its_arm(server):
    api = create_project(server, longitudinal=True)
    api.import_json("arm", [{"arm_num": 2, "name": "Arm 2"}])
    events = [
        {"event_name": "event_2", "arm_num": 1, "unique_event_name": "event_2_arm_2"},
        {"event_name": "event_1", "arm_num": 2, "unique_event_name": "event_1_arm_2"},
    ]
    assert api.import_json("event", events) == 2
    names = [e["unique_event_name"] for e in api.json(content="event")]
    assert names == ["event_1_arm_1", "event_2_arm_1", "event_1_arm_2"]


def test_turning_longitudinal_off_drops_arms_without_events(server):
    api = create_project(server)
    longitudinal_three_arms(api)
    names = {f"events[{i}]": f"event_1_arm_{i + 2}" for i in range(2)}
    assert api.json(content="event", action="delete", **names) == 2
    assert [a["arm_num"] for a in api.json(content="arm")] == [1, 2, 3]
    assert api.import_json("project_settings", [{"is_longitudinal": 0}]) == 1
    assert api.import_json("project_settings", [{"is_longitudinal": 1}]) == 1
    assert api.json(content="arm") == [{"arm_num": 1, "name": "Arm 1"}]
    assert [e["unique_event_name"] for e in api.json(content="event")] == ["event_1_arm_1"]


def test_the_first_event_of_a_project_without_events_holds_every_instrument(server):
    api = create_project(server)
    api.import_json(
        "metadata", [field("record_id", "record_id"), field("a", "form_a"), field("b", "form_b")]
    )
    assert api.import_json("project_settings", [{"is_longitudinal": 1}]) == 1
    api.import_json("arm", [{"arm_num": 1, "name": "Arm 1"}, {"arm_num": 2, "name": "Arm 2"}])
    events = [
        {"event_name": "event_1", "arm_num": 1},
        {"event_name": "event_2", "arm_num": 1},
        {"event_name": "event_1", "arm_num": 2},
    ]
    assert api.import_json("event", events) == 3
    assert api.json(content="formEventMapping") == [
        {"arm_num": 1, "unique_event_name": "event_1_arm_1", "form": form}
        for form in ("record_id", "form_a", "form_b")
    ]
    # Records without an event name go to the first event (redcapAPI's test-109 set-up).
    assert api.import_json("record", [{"record_id": "1", "a": "x", "b": "y"}]) == {"count": 1}
    [row] = api.json(content="record")
    assert (row["redcap_event_name"], row["a"], row["b"]) == ("event_1_arm_1", "x", "y")
    # Events added to a project that has some get no designations.
    assert api.import_json("event", [{"event_name": "event_3", "arm_num": 1}]) == 1
    assert len(api.json(content="formEventMapping")) == 3
