"""Save & Return Later and editing completed responses, over HTTP: a partial response opens
again only with its return code, wrong codes reveal nothing and lock the response after a few."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from survey_helpers import (
    link_for,
    open_form,
    post_page,
    record,
    save_for_later,
    survey_project,
)

from localcap.db import schema as t
from localcap.surveys.returning import MAX_FAILURES


def participant(api, record_id="1"):
    rows = api.json(content="participantList", instrument="intake")
    return next(r for r in rows if r["record"] == record_id)


def enter_code(link, code):
    session, page, _ = open_form(link)
    return session, post_page(session, link, page, return_code=code, begin="1")


def test_save_and_return_later_keeps_a_partial_response(server):
    api = survey_project(server, "--save-and-return")
    link = link_for(api)
    saved = save_for_later(link, full_name="Ada", age="36")
    assert saved.status_code == 200 and "Your survey responses were saved!" in saved.text
    code = api.ok(content="surveyReturnCode", record="1", instrument="intake").text
    assert re.search(r'id="return-code">([A-Z0-9]{8})<', saved.text).group(1) == code
    assert link in saved.text
    # a partial response: answers stored, the form Incomplete, no survey timestamp
    stored = record(api)
    assert (stored["full_name"], stored["age"], stored["intake_complete"]) == ("Ada", "36", "0")
    assert stored["intake_timestamp"] == ""
    listed = participant(api)
    assert (listed["response_status"], listed["survey_link"]) == (1, link)
    # the link alone asks for the return code and shows no answer
    _, page, _ = open_form(link)
    assert "enter your return code" in page.text and "Ada" not in page.text
    assert 'name="full_name"' not in page.text
    _, wrong = enter_code(link, "WRONG123")
    assert wrong.status_code == 403 and "The return code is not valid." in wrong.text
    assert "Ada" not in wrong.text
    # the right code (typed in lower case) shows the saved answers, ready to finish
    session, form = enter_code(link, f" {code.lower()} ")
    assert form.status_code == 200
    assert 'value="Ada"' in form.text and 'value="36"' in form.text
    done = post_page(session, link, form, full_name="Ada L.", age="36", smoker="0")
    assert "Thank you for taking the survey." in done.text
    stored = record(api)
    assert (stored["full_name"], stored["intake_complete"]) == ("Ada L.", "2")
    assert stored["intake_timestamp"] != ""
    assert participant(api) == {**listed, "response_status": 2}
    # completed, and editing completed responses is off: the acknowledgement, no form
    _, again, _ = open_form(link)
    assert "Thank you for taking the survey." in again.text and "<form" not in again.text


def test_saving_for_later_still_checks_the_answers(server):
    api = survey_project(server, "--save-and-return")
    page = save_for_later(link_for(api), full_name="Ada", age="forty")
    assert page.status_code == 400 and "Your answers were not saved" in page.text
    assert record(api)["full_name"] == "" and participant(api)["response_status"] == 0


def test_without_save_and_return_there_is_no_button_and_no_partial_save(server):
    api = survey_project(server)
    link = link_for(api)
    session, page, _ = open_form(link)
    assert "Return Later" not in page.text
    # a forged "save for later" is an ordinary submit: the required name is missing
    refused = post_page(session, link, page, save_return="1", age="36")
    assert refused.status_code == 400 and "This field is required." in refused.text
    assert record(api)["age"] == "" and participant(api)["response_status"] == 0


def test_the_link_alone_cannot_change_a_saved_response(server):
    api = survey_project(server, "--save-and-return")
    link = link_for(api)
    save_for_later(link, full_name="Ada")
    session, page, _ = open_form(link)
    forged = post_page(session, link, page, full_name="Mallory", submit="1")
    assert forged.status_code == 403 and record(api)["full_name"] == "Ada"


def test_wrong_codes_in_a_row_lock_the_response_for_a_while(server):
    api = survey_project(server, "--save-and-return")
    link = link_for(api)
    save_for_later(link, full_name="Ada")
    code = api.ok(content="surveyReturnCode", record="1", instrument="intake").text
    for _ in range(MAX_FAILURES):
        assert enter_code(link, "WRONG123")[1].status_code == 403
    _, locked = enter_code(link, code)  # even the right code, while locked
    assert locked.status_code == 429 and "Too many wrong return codes" in locked.text
    assert "Ada" not in locked.text
    # once the lock has expired the right code opens the response again
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with server.engine.begin() as conn:
        conn.execute(update(t.survey_participants).values(return_locked_until=past))
    _, opened = enter_code(link, code)
    assert opened.status_code == 200 and 'value="Ada"' in opened.text
    # a right code starts the count over: one wrong code now does not lock
    assert enter_code(link, "WRONG123")[1].status_code == 403
    assert enter_code(link, code)[1].status_code == 200


def test_completed_responses_are_edited_with_the_return_code_when_allowed(server):
    api = survey_project(server, "--save-and-return", "--edit-completed")
    link = link_for(api)
    session, page, _ = open_form(link)
    post_page(session, link, page, full_name="Ada", pets=["1"], smoker="0")
    first = record(api)
    assert first["intake_complete"] == "2"
    _, asked, _ = open_form(link)
    assert "already completed this survey" in asked.text and "Ada" not in asked.text
    code = api.ok(content="surveyReturnCode", record="1", instrument="intake").text
    session, form = enter_code(link, code)
    assert 'value="Ada"' in form.text and "Return Later" not in form.text
    assert re.search(r'name="pets" value="1" checked', form.text)
    done = post_page(session, link, form, full_name="Ada Lovelace", pets=["1"], smoker="0")
    assert "Thank you for taking the survey." in done.text
    edited = record(api)
    assert (edited["full_name"], edited["intake_complete"]) == ("Ada Lovelace", "2")
    assert edited["intake_timestamp"] == first["intake_timestamp"]  # completed once
    assert participant(api)["response_status"] == 2
