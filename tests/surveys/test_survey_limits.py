"""Survey expiration and response limits (issue 20 item 4)."""

from __future__ import annotations

from datetime import datetime, timedelta

import requests
from survey_helpers import enable_survey, link_for, open_form, post_page, record, survey_project

from localcap.db.transactions import lock_timeout, set_lock_timeout, write_transaction

LIMIT_TEXT = "the survey is closed because the maximum number of responses has been reached"


def test_an_expired_survey_takes_no_response(server):
    api = survey_project(server)
    link = link_for(api)
    session, page, _ = open_form(link)
    past = (datetime.now() - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    enable_survey(api, "intake", "--expiration", past)
    shown = requests.get(link, timeout=30)
    assert "expired" in shown.text and 'name="full_name"' not in shown.text
    posted = post_page(session, link, page, full_name="Late")
    assert "expired" in posted.text and record(api)["full_name"] == ""
    future = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    enable_survey(api, "intake", "--expiration", future)
    assert 'name="full_name"' in requests.get(link, timeout=30).text


def test_the_response_limit_closes_the_survey(server):
    api = survey_project(server, "--save-and-return")
    api.import_json("record", [{"record_id": str(n)} for n in (3, 4)])
    enable_survey(api, "intake", "--response-limit", "2")
    # record 1 saves for later (a partial counts), record 2 completes: the limit is reached
    first = link_for(api, "1")
    session, page, _ = open_form(first)
    post_page(session, first, page, full_name="One", save_return="1")
    second = link_for(api, "2")
    session, page, _ = open_form(second)
    assert post_page(session, second, page, full_name="Two").status_code == 200
    third = link_for(api, "3")
    closed = requests.get(third, timeout=30)
    assert LIMIT_TEXT in closed.text and 'name="full_name"' not in closed.text
    # the partial response's owner may still finish (it is already counted)
    assert "return code" in requests.get(first, timeout=30).text
    # counting completed responses only, one place is free again
    enable_survey(api, "intake", "--limit-completed-only")
    session, page, _ = open_form(third)
    assert post_page(session, third, page, full_name="Three").status_code == 200
    fourth = link_for(api, "4")
    assert LIMIT_TEXT in requests.get(fourth, timeout=30).text
    assert record(api, "3")["full_name"] == "Three" and record(api, "4")["full_name"] == ""


def test_a_survey_sent_while_the_project_stays_busy_is_a_503_page_and_saves_nothing(server):
    """Another write holds the project's lock beyond the bound (1 s here): the participant's
    submission gets a page saying to send it again (503, Retry-After), not a server error,
    and nothing of it is stored; sent again once the project is free, it is saved."""
    api = survey_project(server)
    link = link_for(api)
    session, page, _ = open_form(link)
    pid = int(api.json(content="project")["project_id"])
    before = lock_timeout(server.engine)
    set_lock_timeout(server.engine, 1.0)
    try:
        with write_transaction(server.engine, pid):
            busy = post_page(session, link, page, full_name="Busy")
    finally:
        set_lock_timeout(server.engine, before)
    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"].isdigit()
    assert "nothing was saved" in busy.text
    assert record(api)["full_name"] == ""
    assert post_page(session, link, page, full_name="Busy").status_code == 200
    assert record(api)["full_name"] == "Busy"
