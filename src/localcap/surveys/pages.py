"""The survey pages localcap serves beside the API: ``/surveys/?s=``, ``?sq=`` and access codes.

Server-rendered HTML (Jinja2, autoescaping on) without scripts or external assets. Labels,
notes and choices come from a project's dictionary, which anyone able to import metadata
controls: they are rendered through :func:`rich` (a whitelist of text formatting tags, no
attributes, via the nh3 sanitizer) and everything else is escaped. A strict
Content-Security-Policy forbids scripts outright, as a second line.

Access-code tries are limited per client address (``AppState.survey_code_attempts`` a
minute; what REDCap allows is undocumented, this is localcap's choice): a code is about 45
bits, and unlimited tries against a project with many participants would let a script find
someone's code in days.

Forms carry a per-form token checked against a cookie (double submit, ``SameSite=Strict``):
another site cannot post answers in a participant's name. Link hashes are secrets, so pages
are sent with ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.

What a ``?s=`` link opens: a blank form (questions shown as branching logic decides, see
:mod:`.branching`); a response saved for later, or a completed one the survey lets respondents
edit, asks for its return code first (:mod:`.returning`), then shows the saved answers; any
other completed response shows the acknowledgement. No script: when answers reveal questions
the page had hidden, the submit brings the page back with them (nothing saved) instead of
showing them as the respondent types.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from localcap.api.context import AppState
from localcap.api.errors import ApiError
from localcap.api.methods.surveys import survey_link
from localcap.api.request import limit_body
from localcap.db import projects as project_store
from localcap.db import surveys as survey_store
from localcap.db.records import StoredRow
from localcap.db.transactions import read_snapshot, write_transaction
from localcap.model.project import Project
from localcap.model.surveys import (
    ACCESS_CODE_LENGTH,
    HASH_ALPHABET,
    HASH_LENGTH,
    Participant,
    Survey,
)
from localcap.surveys.branching import shown_headers, visible_fields
from localcap.surveys.response import (
    ANSWERABLE,
    Submission,
    load_record,
    read_submission,
    save_response,
    saved_submission,
    survey_fields,
)
from localcap.surveys.returning import CodeCheck, check_return_code, is_closed, needs_return_code

CSRF_COOKIE = "localcap_survey_csrf"
#: Formatting REDCap's rich-text labels use; no attributes, so no handlers, styles or links.
RICH_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "br",
    "p",
    "div",
    "span",
    "sup",
    "sub",
    "ul",
    "ol",
    "li",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
MAX_FORM_FIELDS = 2000
MAX_BODY_BYTES = 4 << 20
TOO_MANY_CODES = "Too many codes were tried from your address: wait a minute and try again."
NOT_AVAILABLE = "This survey is not available: the link is not valid, or the survey was closed."
WRONG_CODE = "The return code is not valid."
LOCKED = (
    "Too many wrong return codes were entered for this survey: it is locked for a while. "
    "Please try again later."
)
MORE_QUESTIONS = (
    "Your answers bring up more questions, shown below. Please answer them, then submit again."
)


def rich(text: str) -> Markup:
    """A label's HTML reduced to harmless formatting (the text of anything else is kept)."""
    return Markup(nh3.clean(text or "", tags=RICH_TAGS, attributes={}, link_rel=None))


_env = Environment(
    loader=PackageLoader("localcap.surveys", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["rich"] = rich


@dataclass
class SurveyPage:
    """What one ``?s=`` link opens: the participant, their survey, the project and the
    record's stored rows (what branching logic and saved answers read)."""

    participant: Participant
    survey: Survey
    project: Project
    rows: list[StoredRow] = field(default_factory=list)
    group_id: int | None = None

    @property
    def form_name(self) -> str:
        return self.participant.form_name

    def visible(self, sub: Submission) -> set[str]:
        return visible_fields(self.project, self.participant, self.rows, self.group_id, sub)


def _render(template: str, status: int = 200, csrf: str | None = None, **context: Any) -> Response:
    body = _env.get_template(template).render(csrf=csrf or "", **context)
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    if csrf:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/surveys/")
    return response


def _message(title: str, text: str, status: int = 200) -> Response:
    return _render("message.html", status, title=title, text=text)


def well_formed(code: str, length: int) -> bool:
    """Whether a link hash or code from the URL or form could be one localcap made. Anything
    else never reaches the database (PostgreSQL refuses a NUL byte in a query with an error)."""
    return len(code) == length and all(c in HASH_ALPHABET for c in code)


def _load(conn: Connection, hash_: str) -> SurveyPage | None:
    if not well_formed(hash_, HASH_LENGTH):
        return None
    participant = survey_store.participant_by_hash(conn, hash_)
    if participant is None or participant.record is None:
        return None
    project = project_store.load_project(conn, participant.project_id)
    if project is None:
        return None
    survey = survey_store.load_surveys(conn, project.project_id).get(participant.form_name)
    if survey is None or not survey.enabled:
        return None
    rows, group_id = load_record(conn, project, participant.record)
    return SurveyPage(participant, survey, project, rows, group_id)


def _show_form(
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
    return _render(
        "survey.html",
        status,
        csrf=secrets.token_urlsafe(32),
        survey=page.survey,
        form_label=page.project.form_by_name[page.form_name].form_label,
        fields=fields,
        visible=visible,
        headers=shown_headers(fields, visible),
        was_hidden=" ".join(f.field_name for f in fields if f.field_name not in visible),
        answerable=ANSWERABLE,
        sub=sub,
        return_code=return_code,
        can_save=page.survey.save_and_return and not page.participant.completion_time,
        notice=notice,
    )


def _blank_form(page: SurveyPage) -> Response:
    return _show_form(page, read_submission(page.project, page.form_name, {}))


def _ask_code(page: SurveyPage, error: str = "", status: int = 200) -> Response:
    return _render(
        "return.html",
        status,
        csrf=secrets.token_urlsafe(32),
        survey=page.survey,
        completed=bool(page.participant.completion_time),
        error=error,
    )


def _acknowledge(page: SurveyPage) -> Response:
    return _render("done.html", survey=page.survey)


def _saved(page: SurveyPage, base: str) -> Response:
    return _render(
        "saved.html",
        survey=page.survey,
        return_code=page.participant.return_code,
        link=survey_link(base, page.participant.hash),
    )


def _first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _revealed(page: SurveyPage, form: dict[str, list[str]], visible: set[str]) -> bool:
    """Whether these answers show a question the respondent's page had hidden."""
    was_hidden = set(_first(form, "was_hidden").split())
    return any(
        f.field_name in visible and f.field_name in was_hidden and f.field_type in ANSWERABLE
        for f in survey_fields(page.project, page.form_name)
    )


def _answer(
    conn: Connection, page: SurveyPage, form: dict[str, list[str]], code: str, base: str
) -> Response:
    """Save posted answers: for later (Save & Return), or as the completed response. Answers
    that reveal questions bring the page back with them, nothing saved yet."""
    sub = read_submission(page.project, page.form_name, form)
    visible = page.visible(sub)
    later = bool(_first(form, "save_return")) and page.survey.save_and_return
    if later and not page.participant.completion_time:
        if save_response(
            conn, page.project, page.participant, sub, complete=False, visible=visible
        ):
            return _saved(page, base)
        return _show_form(page, sub, 400, return_code=code)
    if _revealed(page, form, visible):
        return _show_form(page, sub, return_code=code, notice=MORE_QUESTIONS)
    if save_response(conn, page.project, page.participant, sub, complete=True, visible=visible):
        return _acknowledge(page)
    return _show_form(page, sub, 400, return_code=code)


def _csrf_ok(request: Request, form: dict[str, list[str]]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = (form.get("csrf") or [""])[0]
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


async def _form_lists(request: Request) -> dict[str, list[str]] | Response:
    """The posted form's values by name, or the error page for a body too large or unreadable
    (a survey page posts a few kilobytes: nothing bigger is read into memory)."""
    try:
        form = await limit_body(request, MAX_BODY_BYTES).form(
            max_files=0, max_fields=MAX_FORM_FIELDS
        )
    except ApiError:
        return _message("Too large", "The answers sent are too large.", 413)
    except Exception:  # the multipart parser's errors: a malformed body is the sender's fault
        return _message("Not readable", "The answers sent could not be read.", 400)
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
    return lists


def build_routes(state: AppState) -> list[Route]:
    engine = state.engine

    def writing(
        find_project: Callable[[Connection], int | None],
    ) -> AbstractContextManager[Connection]:
        """The write transaction of the project a link belongs to (found first, in a read)."""
        with read_snapshot(engine) as conn:
            project_id = find_project(conn)
        return write_transaction(engine, project_id)

    def project_of_participant(hash_: str) -> Callable[[Connection], int | None]:
        def find(conn: Connection) -> int | None:
            found = survey_store.participant_by_hash(conn, hash_)
            return found.project_id if found is not None else None

        return find if well_formed(hash_, HASH_LENGTH) else lambda conn: None

    def project_of_queue(hash_: str) -> Callable[[Connection], int | None]:
        def find(conn: Connection) -> int | None:
            found = survey_store.queue_by_hash(conn, hash_)
            return found[0] if found is not None else None

        return find if well_formed(hash_, HASH_LENGTH) else lambda conn: None

    def get_survey(hash_: str) -> Response:
        with read_snapshot(engine) as conn:
            page = _load(conn, hash_)
        if page is None:
            return _message("Survey not available", NOT_AVAILABLE, 404)
        if is_closed(page.survey, page.participant):
            return _acknowledge(page)
        if needs_return_code(page.survey, page.participant):
            return _ask_code(page)
        return _blank_form(page)

    def post_survey(hash_: str, form: dict[str, list[str]], base: str) -> Response:
        with writing(project_of_participant(hash_)) as conn:
            page = _load(conn, hash_)
            if page is None:
                return _message("Survey not available", NOT_AVAILABLE, 404)
            if is_closed(page.survey, page.participant):
                return _acknowledge(page)
            code = ""
            if needs_return_code(page.survey, page.participant):
                code = _first(form, "return_code")
                checked = check_return_code(conn, page.participant, code)
                if checked is CodeCheck.LOCKED:
                    return _ask_code(page, LOCKED, 429)
                if checked is CodeCheck.WRONG:
                    return _ask_code(page, WRONG_CODE, 403)
                if _first(form, "begin"):
                    sub = saved_submission(page.project, page.participant, page.rows)
                    return _show_form(page, sub, return_code=code)
            return _answer(conn, page, form, code, base)

    def access_code(code: str) -> Response:
        code = code.strip().upper()
        participant = None
        if well_formed(code, ACCESS_CODE_LENGTH):
            with read_snapshot(engine) as conn:
                participant = survey_store.participant_by_access_code(conn, code)
        if participant is None:
            return _render(
                "access.html", 404, csrf=secrets.token_urlsafe(32), error="The code is not valid."
            )
        return RedirectResponse(f"./?s={participant.hash}", status_code=303, headers=HEADERS)

    def queue(hash_: str) -> Response:
        with writing(project_of_queue(hash_)) as conn:  # it may make participant rows
            found = (
                survey_store.queue_by_hash(conn, hash_) if well_formed(hash_, HASH_LENGTH) else None
            )
            project = project_store.load_project(conn, found[0]) if found else None
            if found is None or project is None:
                return _message("Survey queue not available", NOT_AVAILABLE, 404)
            surveys = survey_store.load_surveys(conn, project.project_id)
            items = []
            for event_id, form, settings in survey_store.load_queue(conn, project.project_id):
                if form not in surveys or str(settings.get("active", "1")) != "1":
                    continue
                p = survey_store.participant_for(
                    conn, project.project_id, form, event_id, found[1], 1
                )
                event = project.event_by_id.get(event_id)
                items.append(
                    {
                        "title": surveys[form].title or project.form_by_name[form].form_label,
                        "event": project.event_label(event) if event else "",
                        "hash": p.hash,
                        "done": bool(p.completion_time),
                    }
                )
        if not items:
            return _message("Survey queue not available", NOT_AVAILABLE, 404)
        return _render("queue.html", items=items)

    async def surveys_page(request: Request) -> Response:
        params = request.query_params
        if request.method == "POST":
            form = await _form_lists(request)
            if isinstance(form, Response):
                return form
            if not _csrf_ok(request, form):
                return _message(
                    "Form expired",
                    "This form has expired or was sent from another site. Open the survey "
                    "link again.",
                    403,
                )
            if "s" in params:
                base = state.public_url or f"{request.url.scheme}://{request.url.netloc}"
                return await run_in_threadpool(post_survey, params["s"], form, base)
            if not state.code_limiter.allow(request.client.host if request.client else ""):
                return _render(
                    "access.html", 429, csrf=secrets.token_urlsafe(32), error=TOO_MANY_CODES
                )
            return await run_in_threadpool(access_code, (form.get("code") or [""])[0])
        if "s" in params:
            return await run_in_threadpool(get_survey, params["s"])
        if "sq" in params:
            return await run_in_threadpool(queue, params["sq"])
        return _render("access.html", csrf=secrets.token_urlsafe(32), error="")

    methods = ["GET", "POST"]
    return [
        Route("/surveys/", surveys_page, methods=methods),
        Route("/surveys", lambda request: RedirectResponse("/surveys/", 308), methods=methods),
    ]
