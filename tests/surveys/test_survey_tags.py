"""Action tags on the survey page (@HIDDEN..., @READONLY..., @FORCE-MINMAX, @DEFAULT, @NOW,
@TODAY, @CALCTEXT), staff-entered values kept by a survey save (issue 14 item 7), and one
completion per link under simultaneous posts."""

from __future__ import annotations

import re
import threading
from datetime import date

import requests
from survey_helpers import enable_survey, link_for, open_form, post_page, record

from builders import create_project, field

TAGGED = [
    field("record_id", "intake", label="Record ID"),
    field("full_name", "intake", label="Full name"),
    field(
        "dob",
        "intake",
        label="Date of birth",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    field("sex", "intake", "radio", "Sex", select_choices_or_calculations="0, Female | 1, Male"),
    field("secret", "intake", label="Staff note", field_annotation="@HIDDEN-SURVEY"),
    field("hidden_all", "intake", label="Hidden everywhere", field_annotation="@HIDDEN"),
    field("form_only", "intake", label="Hidden on forms", field_annotation="@HIDDEN-FORM"),
    field(
        "locked",
        "intake",
        "dropdown",
        "Site",
        select_choices_or_calculations="a, Alpha site | b, Beta site",
        field_annotation="@READONLY-SURVEY",
    ),
    field("ro", "intake", label="Read only", field_annotation="@READONLY"),
    field(
        "score",
        "intake",
        label="Score 1-5",
        text_validation_type_or_show_slider_number="integer",
        text_validation_min="1",
        text_validation_max="5",
        field_annotation="@FORCE-MINMAX",
    ),
    field(
        "soft",
        "intake",
        label="Soft 1-5",
        text_validation_type_or_show_slider_number="integer",
        text_validation_min="1",
        text_validation_max="5",
    ),
    field("greeting", "intake", label="Greeting", field_annotation="@DEFAULT='hello <you>'"),
    field(
        "seen_on",
        "intake",
        label="Seen on",
        text_validation_type_or_show_slider_number="date_ymd",
        field_annotation="@TODAY",
    ),
    field(
        "stamp",
        "intake",
        label="Stamp",
        text_validation_type_or_show_slider_number="datetime_seconds_ymd",
        field_annotation="@NOW @READONLY",
    ),
    field("doubled", "intake", label="Doubled", field_annotation="@CALCTEXT([soft] * 2)"),
]


def tagged_project(server, *options: str):  # noqa: ANN001, ANN201
    api = create_project(server, "Tags")
    api.import_json("metadata", TAGGED)
    enable_survey(api, "intake", *options)
    return api


def test_hidden_and_readonly_fields_are_no_inputs_and_posted_values_are_ignored(server):
    api = tagged_project(server)
    api.import_json(
        "record",
        [
            {
                "record_id": "1",
                "secret": "CONFIDENTIAL staff note",
                "hidden_all": "also hidden",
                "locked": "b",
                "ro": "ro value <b>",
                "intake_complete": "0",
            }
        ],
    )
    link = link_for(api)
    session, page, _ = open_form(link)
    html = page.text
    assert "CONFIDENTIAL" not in html and "Staff note" not in html
    assert "also hidden" not in html and "hidden_all" not in html  # not even its name
    assert 'name="form_only"' in html  # @HIDDEN-FORM is not for surveys
    # read-only: the value is shown as text, never as an input
    assert 'name="locked"' not in html and 'name="ro"' not in html
    assert re.search(r'id="locked-value">Beta site<', html)
    assert "ro value &lt;b&gt;" in html
    done = post_page(
        session,
        link,
        page,
        secret="forged",
        hidden_all="forged",
        locked="a",
        ro="forged",
        sex="1",
    )
    assert done.status_code == 200 and "Thank you for taking the survey." in done.text
    saved = record(api)
    assert (saved["secret"], saved["hidden_all"], saved["locked"], saved["ro"]) == (
        "CONFIDENTIAL staff note",
        "also hidden",
        "b",
        "ro value <b>",
    )
    assert saved["sex"] == "1" and saved["intake_complete"] == "2"


def test_force_minmax_refuses_out_of_range_values(server):
    api = tagged_project(server)
    api.import_json("record", [{"record_id": "1"}])
    link = link_for(api)
    session, page, _ = open_form(link)
    refused = post_page(session, link, page, score="77", soft="77")
    assert refused.status_code == 400 and "within the range 1 to 5" in refused.text
    assert record(api)["score"] == ""
    ok = post_page(session, link, refused, score="5", soft="77")
    assert ok.status_code == 200
    assert (record(api)["score"], record(api)["soft"]) == ("5", "77")


def test_default_today_now_and_calctext(server):
    api = tagged_project(server)
    api.import_json("record", [{"record_id": "1", "soft": "4"}, {"record_id": "2"}])
    # record 1 has intake data already: @DEFAULT does not apply there, @TODAY does
    session, page, _ = open_form(link_for(api, "1"))
    assert 'name="greeting" value=""' in page.text
    assert f'name="seen_on" value="{date.today().isoformat()}"' in page.text
    assert re.search(r'id="doubled-value">8<', page.text)
    # a fresh record: the default is offered, escaped
    link = link_for(api, "2")
    session, page, _ = open_form(link)
    assert 'name="greeting" value="hello &lt;you&gt;"' in page.text
    assert 'name="stamp"' not in page.text  # @NOW @READONLY: set when saved, never posted
    post_page(session, link, page, greeting="hello <you>", seen_on=date.today().isoformat())
    saved = record(api, "2")
    assert saved["greeting"] == "hello <you>" and saved["seen_on"] == date.today().isoformat()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", saved["stamp"]), saved["stamp"]


def test_a_survey_save_keeps_staff_data_and_shows_it(server):
    """Issue 14 item 7: a survey opened on a record with data shows its values and a save
    changes only the fields the page asks."""
    api = tagged_project(server)
    api.import_json(
        "record",
        [{"record_id": "777", "full_name": "Ann", "dob": "1950-01-02", "intake_complete": "0"}],
    )
    link = link_for(api, "777")
    session, page, _ = open_form(link)
    assert 'name="full_name" value="Ann"' in page.text
    assert 'name="dob" value="1950-01-02"' in page.text
    post_page(
        session,
        link,
        page,
        sex="1",
        full_name="Ann",
        dob="1950-01-02",
        seen_on=date.today().isoformat(),
    )
    saved = record(api, "777")
    assert (saved["full_name"], saved["dob"], saved["sex"]) == ("Ann", "1950-01-02", "1")
    # a post that leaves out fields the page did not ask (no staff data lost either way)
    api.import_json("record", [{"record_id": "778", "full_name": "Bob", "secret": "s"}])
    link = link_for(api, "778")
    session, page, _ = open_form(link)
    session.post(
        link,
        data={
            "csrf": re.search(r'name="csrf" value="([^"]+)"', page.text)[1],
            "full_name": "Bob",
            "sex": "0",
        },
        timeout=30,
    )
    assert (record(api, "778")["secret"], record(api, "778")["full_name"]) == ("s", "Bob")


def test_a_form_completed_by_staff_shows_the_acknowledgement(server):
    api = tagged_project(server)
    api.import_json("record", [{"record_id": "5", "full_name": "Cy", "intake_complete": "2"}])
    link = link_for(api, "5")
    session, page, _ = open_form(link)
    assert "<form" not in page.text and "Thank you for taking the survey." in page.text
    forged = session.post(link, data={"full_name": "X"}, timeout=30)
    assert forged.status_code in (200, 403)
    assert record(api, "5")["full_name"] == "Cy"


def test_simultaneous_posts_complete_the_survey_once(server):
    api = tagged_project(server)
    api.import_json("record", [{"record_id": "1"}])
    link = link_for(api)
    pages = [open_form(link) for _ in range(10)]
    barrier = threading.Barrier(len(pages))
    answers: list[requests.Response] = []

    def post(i: int) -> None:
        session, page, _ = pages[i]
        barrier.wait()
        answers.append(post_page(session, link, page, full_name=f"client {i}"))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(pages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200] * 10
    log = api.json(content="log", logtype="record_edit")
    saves = [e for e in log if e["username"] == "[survey respondent]"]
    assert len(saves) == 1 and "Update survey response" in saves[0]["action"], saves
    name = record(api)["full_name"]
    assert name.startswith("client ")
