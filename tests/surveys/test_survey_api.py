"""The five Surveys API methods over HTTP: answers, formats, stability, errors and rights."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest
from survey_helpers import long_project, survey_project, user_token

KEYS = [
    "email",
    "email_occurrence",
    "identifier",
    "record",
    "invitation_sent_status",
    "invitation_send_time",
    "response_status",
    "survey_access_code",
    "survey_link",
    "survey_queue_link",
]


def code(api, content, record="1", **params):
    return api.call(content=content, record=record, instrument="intake", **params)


def test_links_and_codes_are_stable_per_record_and_unguessable(server):
    api = survey_project(server, "--save-and-return")
    base = server.url.removesuffix("/api/")
    link = code(api, "surveyLink")
    assert link.status_code == 200
    assert re.fullmatch(re.escape(base) + r"/surveys/\?s=[A-Z0-9]{16}", link.text)
    assert code(api, "surveyLink").text == link.text  # the same link every time
    other = code(api, "surveyLink", record="2").text
    assert other != link.text
    access = code(api, "surveyAccessCode").text
    assert len(access) == 9 and access.isalnum() and access.isupper()
    assert code(api, "surveyAccessCode").text == access
    assert code(api, "surveyAccessCode", record="2").text != access
    ret = code(api, "surveyReturnCode").text
    assert len(ret) == 8 and ret.isalnum()
    assert code(api, "surveyReturnCode").text == ret


def test_participant_list_in_json_csv_and_xml(server):
    api = survey_project(server)
    link1 = code(api, "surveyLink").text
    rows = api.json(content="participantList", instrument="intake")
    assert [list(r) for r in rows] == [KEYS, KEYS]
    assert [r["record"] for r in rows] == ["1", "2"]
    assert rows[0]["survey_link"] == link1
    assert rows[0]["response_status"] == 0 and rows[0]["invitation_sent_status"] == 0
    assert rows[0]["survey_access_code"] == code(api, "surveyAccessCode").text
    assert rows[0]["survey_queue_link"] == ""  # no survey queue in this project
    text = api.ok(content="participantList", instrument="intake", format="csv").text
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(KEYS)
    assert [r["survey_link"] for r in parsed] == [r["survey_link"] for r in rows]
    xml = api.ok(content="participantList", instrument="intake", format="xml").text
    items = ET.fromstring(xml.encode())
    assert [[c.tag for c in item] for item in items] == [KEYS, KEYS]
    assert items[1].find("record").text == "2"


def test_a_missing_record_is_redcaps_400(server):
    api = survey_project(server)
    for content in ("surveyLink", "surveyAccessCode", "surveyReturnCode"):
        response = code(api, content, record="-1", returnFormat="csv")
        assert response.status_code == 400
        assert response.text == 'ERROR: The record "-1" does not exist'


def test_instruments_that_are_not_surveys(server):
    api = survey_project(server)
    response = api.call(content="surveyLink", record="1", instrument="staff", format="json")
    assert response.status_code == 400
    assert response.json() == {"error": 'The instrument "staff" is not enabled as a survey'}
    response = api.call(content="participantList", instrument="nope", format="json")
    assert response.status_code == 400
    assert response.json() == {"error": 'The instrument "nope" does not exist'}


def test_return_codes_need_save_and_return(server):
    api = survey_project(server)  # save and return off
    response = code(api, "surveyReturnCode", format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": 'Survey return codes are not enabled for the instrument "intake": its survey '
        "settings have Save & Return Later off"
    }


def test_queue_link_needs_the_survey_queue(server):
    api = survey_project(server)
    response = api.call(content="surveyQueueLink", record="1", format="json")
    assert response.status_code == 400
    assert response.json() == {"error": "The survey queue is not enabled in this project"}
    queued = survey_project(server, "--queue")
    link = queued.ok(content="surveyQueueLink", record="1").text
    assert re.search(r"/surveys/\?sq=[A-Z0-9]{16}$", link)
    assert queued.ok(content="surveyQueueLink", record="1").text == link
    rows = queued.json(content="participantList", instrument="intake")
    assert rows[0]["survey_queue_link"] == link


def test_events_of_a_longitudinal_project(server):
    api = long_project(server)
    params = {"record": "1", "instrument": "contact_info", "format": "json"}
    assert api.call(content="surveyLink", **params).json() == {
        "error": "The parameter 'event' is missing (it is required in longitudinal projects)"
    }
    assert api.call(content="surveyLink", event="nope", **params).json() == {
        "error": 'The event "nope" does not exist'
    }
    wrong = api.call(content="surveyLink", event="dose_1_arm_1", **params)
    assert wrong.status_code == 400
    assert "not designated" in wrong.json()["error"]
    rows = api.json(content="participantList", instrument="contact_info", event="enrollment_arm_1")
    assert [r["record"] for r in rows] == ["1"]  # the one record of arm 1
    arm_2 = api.json(content="participantList", instrument="contact_info", event="enrollment_arm_2")
    assert [r["record"] for r in arm_2] == ["2"]  # record 2 lives in arm 2 only


@pytest.mark.parametrize(
    ("rights", "message"),
    [
        (
            {"api_export": 0, "manage_survey_participants": 1},
            "You do not have API Export privileges",
        ),
        (
            {"api_export": 1, "manage_survey_participants": 0},
            "You do not have permissions to use this method: Survey Distribution Tools "
            "privileges (Manage Survey Participants) are required",
        ),
    ],
)
def test_rights(server, rights, message):
    api = survey_project(server, "--queue", "--save-and-return")
    user = user_token(server, api, f"u{rights['api_export']}", **rights)
    for content in (
        "surveyLink",
        "surveyAccessCode",
        "surveyReturnCode",
        "surveyQueueLink",
        "participantList",
    ):
        response = user.call(content=content, record="1", instrument="intake", format="json")
        assert response.status_code == 403, content
        assert response.json() == {"error": message}


def test_records_of_another_dag_do_not_exist_for_a_dag_user(server):
    api = survey_project(server)
    api.import_json("dag", [{"data_access_group_name": "North", "unique_group_name": ""}])
    api.import_json("record", [{"record_id": "1", "redcap_data_access_group": "north"}])
    user = user_token(server, api, "south", api_export=1, manage_survey_participants=1)
    dag = user_token(server, api, "northern", api_export=1, manage_survey_participants=1)
    api.import_json(
        "userDagMapping", [{"username": "northern", "redcap_data_access_group": "north"}]
    )
    assert user.call(content="surveyLink", record="1", instrument="intake").status_code == 200
    response = dag.call(content="surveyLink", record="2", instrument="intake", returnFormat="csv")
    assert response.text == 'ERROR: The record "2" does not exist'
    assert [r["record"] for r in dag.json(content="participantList", instrument="intake")] == ["1"]
