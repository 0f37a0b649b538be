"""The pages a survey link answers with: the form, the return-code prompt, the
acknowledgement, the "saved for later" page and the closed-survey pages.

Each takes a loaded :class:`SurveyPage`, so the GET and the POST of a link (and every
error path of the save) show the same page for the same state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from starlette.responses import Response

from localcap.db import surveys as survey_store
from localcap.model.surveys import (
    EXPIRED_TEXT,
    survey_link,
)
from localcap.surveys.branching import shown_headers
from localcap.surveys.render import NOT_AVAILABLE, message, render
from localcap.surveys.response import (
    ANSWERABLE,
    Submission,
    input_fields,
    opening_submission,
    participant_row,
    survey_fields,
    upload_fields,
)
from localcap.surveys.returning import is_closed
from localcap.surveys.survey_page import SurveyPage, load_page


def show_form(
    page: SurveyPage,
    sub: Submission,
    status: int = 200,
    *,
    return_code: str = "",
    notice: str = "",
) -> Response:
    """The questions branching logic shows for these answers, filled with them. The fields
    hidden now are listed in the form, so that the answer can tell which ones it revealed."""
    fields = survey_fields(page.project, page.form_name)
    visible = page.visible(sub)
    inputs = {f.field_name for f in input_fields(page.project, page.form_name)}
    uploads = {f.field_name for f in upload_fields(page.project, page.form_name)}
    stored = participant_row(page.project, page.participant, page.rows)
    return render(
        "survey.html",
        status,
        form=True,
        survey=page.survey,
        form_label=page.project.form_by_name[page.form_name].form_label,
        fields=fields,
        visible=visible,
        headers=shown_headers(fields, visible),
        # only questions: a field an action tag hides is never named on the page
        was_hidden=" ".join(name for name in sorted(inputs) if name not in visible),
        answerable=ANSWERABLE,
        inputs=inputs,
        shown=page.shown_values(sub, visible),
        pipe=page.pipe,
        uploads=uploads,
        has_file={name for name in uploads if stored.get(name)},
        sub=sub,
        return_code=return_code,
        can_save=page.survey.save_and_return and not page.participant.completion_time,
        notice=notice,
    )


def opening_form(page: SurveyPage) -> Response:
    """The page a link opens: the record's stored answers (and action tags' initial values)."""
    return show_form(
        page, opening_submission(page.project, page.participant, page.rows, datetime.now())
    )


def ask_code(page: SurveyPage, error: str = "", status: int = 200) -> Response:
    return render(
        "return.html",
        status,
        form=True,
        survey=page.survey,
        completed=bool(page.participant.completion_time),
        error=error,
    )


def acknowledge(page: SurveyPage) -> Response:
    return render("done.html", survey=page.survey, pipe=page.pipe)


def saved_page(page: SurveyPage, base: str) -> Response:
    return render(
        "saved.html",
        survey=page.survey,
        return_code=page.participant.return_code,
        link=survey_link(base, page.participant.hash),
    )


def no_more_responses(conn: Connection, page: SurveyPage) -> Response | None:
    """The page of a survey past its ``survey_expiration`` or at its ``response_limit``, for a
    respondent whose response is not already counted (None: the survey takes responses)."""
    survey, participant = page.survey, page.participant
    if survey.expired(datetime.now()):
        return message(survey.title or "Survey closed", EXPIRED_TEXT)
    limit = survey.response_limit
    if not limit or (participant.partial and survey.limit_counts_partials):
        return None
    count = survey_store.response_count(
        conn, page.project.project_id, page.form_name, survey.limit_counts_partials
    )
    if count >= limit:
        return render("closed.html", survey=survey)
    return None


def open_page(conn: Connection, hash_: str) -> SurveyPage | Response:
    """The link's page, or the page that answers instead: not available, the
    acknowledgement of a closed response, or the survey's limits reached."""
    page = load_page(conn, hash_)
    if page is None:
        return message("Survey not available", NOT_AVAILABLE, 404)
    if is_closed(page.survey, page.participant):
        return acknowledge(page)
    if not page.participant.completion_time:
        closed = no_more_responses(conn, page)
        if closed is not None:
            return closed
    return page
