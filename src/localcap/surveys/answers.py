"""Saving a posted survey page, under the project's write lock.

Everything is checked again here (the link, the return code, which questions the answers
show, required files): the page the respondent saw may be stale. Answers that reveal
questions bring the page back with them, nothing saved; otherwise the response is saved for
later (Save & Return) or as completed, and its files attached.
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.responses import Response

from localcap.surveys.response import (
    Saved,
    input_fields,
    load_record,
    read_submission,
    save_response,
    saved_submission,
)
from localcap.surveys.returning import CodeCheck, check_return_code, needs_return_code
from localcap.surveys.survey_audit import log_return_code
from localcap.surveys.survey_page import SurveyPage
from localcap.surveys.uploads import Uploads, attach_uploads, missing_files
from localcap.surveys.views import acknowledge, ask_code, open_page, saved_page, show_form

WRONG_CODE = "The return code is not valid."


LOCKED = (
    "Too many wrong return codes were entered for this survey: it is locked for a while. "
    "Please try again later."
)


MORE_QUESTIONS = (
    "Your answers bring up more questions, shown below. Please answer them, then submit again."
)


def first_value(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _revealed(page: SurveyPage, form: dict[str, list[str]], visible: set[str]) -> bool:
    """Whether these answers show a question the respondent's page had hidden."""
    was_hidden = set(first_value(form, "was_hidden").split())
    return any(
        f.field_name in visible and f.field_name in was_hidden
        for f in input_fields(page.project, page.form_name)
    )


def save_answers(
    conn: Connection,
    page: SurveyPage,
    form: dict[str, list[str]],
    code: str,
    base: str,
    uploads: Uploads,
) -> Response:
    """Save posted answers: for later (Save & Return), or as the completed response. Answers
    that reveal questions bring the page back with them, nothing saved yet."""
    sub = read_submission(page.project, page.form_name, form)
    visible = page.visible(sub)
    later = bool(first_value(form, "save_return")) and page.survey.save_and_return
    completed = bool(page.participant.completion_time)
    if not (later and not completed) and _revealed(page, form, visible):
        return show_form(page, sub, return_code=code, notice=MORE_QUESTIONS)
    complete = not (later and not completed)
    missing = missing_files(page, uploads, visible) if complete else {}
    if missing:
        sub.errors = missing
        return show_form(page, sub, 400, return_code=code)
    saved = save_response(
        conn,
        page.project,
        page.participant,
        sub,
        complete=complete,
        visible=visible,
        rows=page.rows,
        editing=completed,
    )
    if saved is Saved.CLOSED:
        return acknowledge(page)
    if saved is Saved.INVALID:
        return show_form(page, sub, 400, return_code=code)
    attach_uploads(conn, page, uploads, visible)
    if not complete:
        return saved_page(page, base)
    assert page.participant.record is not None
    page.rows, _ = load_record(conn, page.project, page.participant.record)
    return acknowledge(page)  # with the answers just saved piped in


def answer_survey(
    conn: Connection,
    hash_: str,
    form: dict[str, list[str]],
    base: str,
    uploads: Uploads,
    client: str,
) -> Response:
    """The posted page, under the project's write lock: everything checked again here."""
    page = open_page(conn, hash_)
    if isinstance(page, Response):
        return page
    code = ""
    if needs_return_code(page.survey, page.participant):
        code = first_value(form, "return_code")
        checked = check_return_code(conn, page.participant, code)
        # (a locked response's refusals are not logged: its wrong codes were, and a
        # script hammering it must not fill the log)
        begin = first_value(form, "begin")
        if checked is CodeCheck.WRONG or (checked is CodeCheck.OK and begin):
            log_return_code(conn, page, checked, client)
        if checked is CodeCheck.LOCKED:
            return ask_code(page, LOCKED, 429)
        if checked is CodeCheck.WRONG:
            return ask_code(page, WRONG_CODE, 403)
        if begin:
            sub = saved_submission(page.project, page.participant, page.rows)
            return show_form(page, sub, return_code=code)
    return save_answers(conn, page, form, code, base, uploads)
