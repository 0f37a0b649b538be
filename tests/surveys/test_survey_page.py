"""The survey page over HTTP: what it shows, how it saves, and what it refuses."""

from __future__ import annotations

import re

import requests
from survey_helpers import HOSTILE, csrf_of, open_form, record, survey_project, surveys_url


def test_the_page_shows_the_instrument_and_escapes_labels(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    _, page, token = open_form(link)
    assert page.status_code == 200 and token
    html = page.text
    assert "Intake &lt;survey&gt;" in html  # the title is text, escaped
    assert "Please complete the survey below." in html  # REDCap's default instructions
    assert "About you" in html and "In whole years" in html and "* must provide value" in html
    for name in ("full_name", "age", "visit_date", "story", "country"):
        assert f'name="{name}"' in html
    assert html.count('name="colour"') == 2 and html.count('name="pets"') == 2
    assert html.count('name="smoker"') == 2 and html.count('name="agree"') == 2
    assert 'name="double_age"' not in html  # calc fields are computed, never posted
    assert 'name="record_id"' not in html and "Staff only" not in html
    assert "Thank you for <i>helping</i>" in html  # harmless formatting is kept
    # the hostile label keeps its harmless part only: no script, no handler, no image
    assert "<b>Bold</b>" in html and "<script" not in html and "onerror" not in html
    assert HOSTILE not in html
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


def test_submitting_saves_the_record_completes_the_form_and_logs_it(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    session, _, token = open_form(link)
    answer = {
        "csrf": token,
        "full_name": "Ada <Lovelace>",
        "age": "36",
        "visit_date": "2024-02-29",
        "colour": "2",
        "pets": ["1", "2"],
        "country": "ca",
        "smoker": "0",
        "agree": "1",
        "story": "line 1\nline 2",
    }
    done = session.post(link, data=answer, timeout=30)
    assert done.status_code == 200
    assert "Thank you for taking the survey." in done.text
    saved = record(api)
    assert {k: saved[k] for k in ("full_name", "age", "visit_date", "colour", "country")} == {
        "full_name": "Ada <Lovelace>",
        "age": "36",
        "visit_date": "2024-02-29",
        "colour": "2",
        "country": "ca",
    }
    assert (saved["pets___1"], saved["pets___2"], saved["smoker"], saved["agree"]) == (
        "1",
        "1",
        "0",
        "1",
    )
    assert saved["story"] == "line 1\nline 2"
    assert saved["intake_complete"] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", saved["intake_timestamp"])
    rows = api.json(content="participantList", instrument="intake")
    assert rows[0]["response_status"] == 2 and rows[1]["response_status"] == 0
    log = api.json(content="log", logtype="record_edit")
    ours = [e for e in log if e["username"] == "[survey respondent]"]
    assert len(ours) == 1
    # REDCap's words and its "what": each value saved, the form's status among them
    assert ours[0]["action"] == "Update survey response 1" and ours[0]["record"] == "1"
    details = ours[0]["details"]
    assert "full_name = 'Ada <Lovelace>'" in details and "intake_complete = '2'" in details
    assert "story = 'line 1\\nline 2'" in details  # a line break is shown escaped
    # a completed survey shows the acknowledgement again, and takes no second answer
    again = session.get(link, timeout=30)
    assert "Thank you for taking the survey." in again.text and "<form" not in again.text
    session.post(link, data={**answer, "full_name": "Changed"}, timeout=30)
    assert record(api)["full_name"] == "Ada <Lovelace>"


def test_invalid_answers_are_shown_again_with_messages_and_nothing_is_saved(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="2", instrument="intake").text
    before = record(api, "2")
    session, _, token = open_form(link)
    page = session.post(
        link, data={"csrf": token, "age": "forty", "visit_date": "2024-02-30"}, timeout=30
    )
    assert page.status_code == 400
    assert "Your answers were not saved" in page.text
    assert "This field is required." in page.text  # full_name is required
    token = csrf_of(page.text)
    page = session.post(
        link,
        data={"csrf": token, "full_name": "B", "age": "forty", "visit_date": "2024-02-30"},
        timeout=30,
    )
    assert page.status_code == 400
    errors = re.findall(r'<div class="error" role="alert">([^<]+)</div>', page.text)
    assert len(errors) == 2 and all("age" in e or "visit_date" in e for e in errors), errors
    assert 'value="forty"' in page.text and 'value="B"' in page.text  # answers kept
    assert record(api, "2") == before


def test_forged_posts_and_unknown_links_are_refused(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    forged = requests.post(link, data={"csrf": "x", "full_name": "Mallory"}, timeout=30)
    assert forged.status_code == 403
    assert record(api)["full_name"] == ""
    assert requests.get(surveys_url(server) + "?s=AAAAAAAAAAAAAAAA", timeout=30).status_code == 404
    assert requests.get(surveys_url(server) + "?sq=AAAAAAAAAAAAAAAA", timeout=30).status_code == 404


def test_access_codes_open_the_survey(server):
    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    access = api.ok(content="surveyAccessCode", record="1", instrument="intake").text
    session = requests.Session()
    form = session.get(surveys_url(server), timeout=30)
    assert "Enter your survey access code" in form.text
    token = csrf_of(form.text)
    opened = session.post(
        surveys_url(server), data={"csrf": token, "code": access.lower()}, timeout=30
    )
    assert opened.url == link and "Intake &lt;survey&gt;" in opened.text
    # the survey page's token is for that link only: a new access-code form for the next try
    reused = {"csrf": csrf_of(opened.text), "code": "NOPE"}
    assert session.post(surveys_url(server), data=reused, timeout=30).status_code == 403
    token = csrf_of(session.get(surveys_url(server), timeout=30).text)
    wrong = session.post(surveys_url(server), data={"csrf": token, "code": "NOPE"}, timeout=30)
    assert wrong.status_code == 404 and "The code is not valid." in wrong.text


def test_the_survey_queue_page_lists_the_records_surveys(server):
    api = survey_project(server, "--queue")
    queue = api.ok(content="surveyQueueLink", record="1").text
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    page = requests.get(queue, timeout=30)
    assert page.status_code == 200
    assert "Intake &lt;survey&gt;" in page.text
    assert 'href="./?s=' + link.rsplit("=", 1)[1] + '"' in page.text


def test_a_disabled_survey_stops_answering(server):
    from survey_helpers import cli, project_id

    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    cli(server, "survey", "disable", "--project", str(project_id(api)), "--instrument", "intake")
    assert requests.get(link, timeout=30).status_code == 404
    response = api.call(content="surveyLink", record="1", instrument="intake", format="json")
    assert response.json() == {"error": 'The instrument "intake" is not enabled as a survey'}
