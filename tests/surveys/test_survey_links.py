"""Survey links and the survey queue in a longitudinal project: queue conditions and arms
(issue 20 item 3), links that outlive what they point at (item 5)."""

from __future__ import annotations

import requests
from survey_helpers import enable_survey, open_form, post_page

from builders import Api, create_project, field
from projectxml.projectxml_helpers import create_from_odm, export_xml

DICTIONARY = [
    field("record_id", "enrol", label="Record ID"),
    field("consent", "enrol", "yesno", "Consent"),
    field("mood", "diary", label="Mood"),
    field("reason", "leaving", label="Why are you leaving?"),
]
EVENTS = [
    {"event_name": "Baseline", "arm_num": 1},
    {"event_name": "Follow up", "arm_num": 1},
    {"event_name": "Baseline", "arm_num": 2},
]
MAPPING = [
    {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "enrol"},
    {"arm_num": 1, "unique_event_name": "follow_up_arm_1", "form": "diary"},
    {"arm_num": 1, "unique_event_name": "follow_up_arm_1", "form": "leaving"},
    {"arm_num": 2, "unique_event_name": "baseline_arm_2", "form": "enrol"},
    {"arm_num": 2, "unique_event_name": "baseline_arm_2", "form": "diary"},
]


def two_arms(server) -> Api:  # noqa: ANN001
    api = create_project(server, "Two arms", longitudinal=True)
    api.import_json("metadata", DICTIONARY)
    api.import_json("arm", [{"arm_num": 1, "name": "One"}, {"arm_num": 2, "name": "Two"}])
    api.import_json("event", EVENTS, override=1)
    api.import_json("formEventMapping", MAPPING)
    enable_survey(api, "diary", "--queue")
    enable_survey(api, "leaving", "--queue")
    return api


def with_conditions(server) -> Api:  # noqa: ANN001
    """The same project through a project XML whose queue has REDCap's conditions: the diary
    (arm 1) after consent, the leaving survey after the diary was completed."""
    xml = export_xml(two_arms(server))
    diary = 'event_id="follow_up_arm_1" survey_id="diary"'
    leaving = 'event_id="follow_up_arm_1" survey_id="leaving"'
    assert diary in xml and leaving in xml
    xml = xml.replace(
        diary, f'condition_logic="[baseline_arm_1][consent] = \'1\'" condition_andor="AND" {diary}'
    ).replace(
        leaving,
        'condition_surveycomplete_survey_id="diary" '
        f'condition_surveycomplete_event_id="follow_up_arm_1" condition_andor="AND" {leaving}',
    )
    return create_from_odm(server, xml, "Conditions")


def queue_page(api: Api, record: str) -> requests.Response:
    return requests.get(api.ok(content="surveyQueueLink", record=record).text, timeout=30)


def test_the_queue_applies_its_conditions(server):
    api = with_conditions(server)
    api.import_json(
        "record",
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "consent": "0"},
            {"record_id": "2", "redcap_event_name": "baseline_arm_1", "consent": "1"},
        ],
    )
    assert queue_page(api, "1").status_code == 404  # no consent: nothing offered
    page = queue_page(api, "2")
    assert page.status_code == 200
    assert "Mood" not in page.text and page.text.count("Begin survey") == 1  # the diary only
    assert "leaving" not in page.text.lower()
    link = api.ok(
        content="surveyLink", record="2", instrument="diary", event="follow_up_arm_1"
    ).text
    assert link.rsplit("=", 1)[1] in page.text
    session, form, _ = open_form(link)
    assert post_page(session, link, form, mood="fine").status_code == 200
    page = queue_page(api, "2")
    assert "Completed" in page.text and page.text.count("Begin survey") == 1  # now leaving


def test_the_queue_never_offers_another_arms_events(server):
    api = two_arms(server)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    page = queue_page(api, "1")
    assert page.status_code == 200
    assert "Arm 2" not in page.text and "Two" not in page.text
    assert page.text.count("Begin survey") == 2  # diary and leaving of arm 1's follow up
    # a link to the other arm's diary (staff can make one) does not put the record there
    other = api.ok(
        content="surveyLink", record="1", instrument="diary", event="baseline_arm_2"
    ).text
    assert requests.get(other, timeout=30).status_code == 404
    rows = api.json(content="record", records="1")
    assert {r["redcap_event_name"] for r in rows} == {"baseline_arm_1"}


def test_a_deleted_events_link_is_not_valid_and_ids_are_not_reused(server):
    api = two_arms(server)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_2"}])
    link = api.ok(content="surveyLink", record="1", instrument="diary", event="baseline_arm_2").text
    session, form, _ = open_form(link)
    assert 'name="mood"' in form.text
    api.ok(content="event", action="delete", events=["baseline_arm_2"])
    assert requests.get(link, timeout=30).status_code == 404
    posted = post_page(session, link, form, mood="x")
    assert posted.status_code == 404 and "not available" in posted.text
    # a new event does not inherit the deleted one's id, so neither its link
    api.import_json("event", [{"event_name": "Later", "arm_num": 2}])
    api.import_json(
        "formEventMapping",
        [{"arm_num": 2, "unique_event_name": "later_arm_2", "form": "diary"}],
    )
    again = requests.get(link, timeout=30)
    assert again.status_code == 404 and "Completed" not in again.text


def test_an_unmapped_instrument_answers_not_available(server):
    api = two_arms(server)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    link = api.ok(
        content="surveyLink", record="1", instrument="leaving", event="follow_up_arm_1"
    ).text
    session, form, _ = open_form(link)
    api.import_json("formEventMapping", [m for m in MAPPING if m["form"] != "leaving"])
    posted = post_page(session, link, form, reason="x")
    assert posted.status_code == 404 and "not available" in posted.text


def test_deleting_the_instruments_data_resets_the_response(server):
    api = two_arms(server)
    enable_survey(api, "diary", "--save-and-return")
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    params = {"record": "1", "instrument": "diary", "event": "follow_up_arm_1"}
    link = api.ok(content="surveyLink", **params).text
    session, form, _ = open_form(link)
    post_page(session, link, form, mood="sad", save_return="1")
    listed = api.json(content="participantList", instrument="diary", event="follow_up_arm_1")
    assert listed[0]["response_status"] == 1
    assert "return code" in requests.get(link, timeout=30).text
    api.ok(content="record", action="delete", records=["1"], instrument="diary")
    listed = api.json(content="participantList", instrument="diary", event="follow_up_arm_1")
    assert listed[0]["response_status"] == 0
    page = requests.get(link, timeout=30)
    assert 'name="mood" value=""' in page.text and "return code" not in page.text


EXPOSED_IDS = (
    "projects",
    "events",
    "dags",
    "documents",
    "reports",
    "audit_log",
    "user_roles",
    "repository_folders",
    "survey_participants",
)


def test_every_table_with_exposed_ids_never_reuses_them(server):
    """SQLite reuses the largest id after a delete unless the table is AUTOINCREMENT
    (PostgreSQL's sequences never hand a number out twice)."""
    if server.backend != "sqlite":
        return
    with server.engine.connect() as conn:
        for table in EXPOSED_IDS:
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).scalar_one()
            assert "AUTOINCREMENT" in sql, table
