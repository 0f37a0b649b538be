"""The survey pages localcap serves beside the API: ``/surveys/?s=``, ``?sq=`` and access codes.

This module is the route table and the request handling around each page: which pages
exist, which transaction each runs in, the form token, the access-code limits and the
upload bookkeeping. The pages themselves are split by job: :mod:`.render` (templates,
escaping, security headers), :mod:`.survey_page` (what a link opens), :mod:`.views` (the
pages shown), :mod:`.answers` (saving posted answers, return codes), :mod:`.uploads`,
:mod:`.queue`, :mod:`.posted` (reading a posted form) and :mod:`.survey_audit`.
Server-rendered HTML without scripts or external assets (:mod:`.render` says why).

Access-code tries are limited per client address (``AppState.survey_code_attempts`` a
minute; an IPv6 client counts by its /64) and for all addresses together
(``survey_code_attempts_total``); what REDCap allows is undocumented, this is localcap's
choice: a code is about 45 bits, and unlimited tries against a project with many participants
would let a script find someone's code in days. The client address is the connection's peer
unless the peer is a proxy the operator named (``localcap serve --forwarded-allow-ips``).

Forms carry a token signed with the server's secret for the browser's session cookie and the
link (:mod:`.forms`): another site cannot post answers in a participant's name, and a token
cannot be made up.

What a ``?s=`` link opens: the form, with the record's saved values (questions shown as
branching logic and action tags decide, see :mod:`.branching`; the rules are in
``docs/SURVEYS.md``); a response saved for later, or a completed one the survey lets respondents
edit, asks for its return code first (:mod:`.returning`), then shows the saved answers; any
other completed response shows the acknowledgement. No script: when answers reveal questions
the page had hidden, the submit brings the page back with them (nothing saved) instead of
showing them as the respondent types.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from localcap.api.ratelimit import address_bucket
from localcap.db import projects as project_store
from localcap.db import surveys as survey_store
from localcap.db.secrets import server_secret
from localcap.db.transactions import WriteLockTimeout, read_snapshot, write_transaction
from localcap.limits import BUSY_RETRY_AFTER
from localcap.model.record_import import RecordImportError
from localcap.model.surveys import ACCESS_CODE_LENGTH, HASH_LENGTH
from localcap.state import AppState
from localcap.surveys import forms
from localcap.surveys.answers import answer_survey, first_value
from localcap.surveys.posted import form_lists
from localcap.surveys.queue import queue_items
from localcap.surveys.render import FORM_TOKEN, HEADERS, NOT_AVAILABLE, message, render
from localcap.surveys.returning import needs_return_code
from localcap.surveys.survey_audit import log_access_code
from localcap.surveys.survey_page import load_page, well_formed
from localcap.surveys.uploads import Uploads
from localcap.surveys.views import ask_code, open_page, opening_form

log = logging.getLogger("localcap")

TOO_MANY_CODES = "Too many codes were tried from your address: wait a minute and try again."
FORM_EXPIRED = "This form has expired or was sent from another site. Open the survey link again."
BUSY = (
    "The survey is busy with another change; nothing was saved. Go back and send "
    "your answers again in a few seconds."
)


class SurveyPages:
    """The handlers of ``/surveys/``, bound to the server's state (database, file store,
    limiters). The blocking ones run in a thread, each in its own transaction."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.engine = state.engine
        self._secret: list[bytes] = []

    def writing(
        self, find_project: Callable[[Connection], int | None]
    ) -> AbstractContextManager[Connection]:
        """The write transaction of the project a link belongs to (found first, in a read)."""
        with read_snapshot(self.engine) as conn:
            project_id = find_project(conn)
        return write_transaction(self.engine, project_id)

    def get_survey(self, hash_: str) -> Response:
        with read_snapshot(self.engine) as conn:  # the page and the response count: one state
            page = open_page(conn, hash_)
        if isinstance(page, Response):
            return page
        if needs_return_code(page.survey, page.participant):
            return ask_code(page)
        return opening_form(page)

    def post_survey(
        self,
        hash_: str,
        form: dict[str, list[str]],
        base: str,
        files: dict[str, UploadFile],
        client: str,
    ) -> Response:
        uploads = Uploads(files, self.state.file_store if files else None)
        with read_snapshot(self.engine) as conn:  # which project, and which fields take files
            page = load_page(conn, hash_)
        if page is None:
            return message("Survey not available", NOT_AVAILABLE, 404)
        try:
            uploads.put(page, form)
            with write_transaction(self.engine, page.project.project_id) as conn:
                response = answer_survey(conn, hash_, form, base, uploads, client)
        except RecordImportError:  # the record went away under the save: nothing was written
            response = message("Survey not available", NOT_AVAILABLE, 404)
            uploads.attached.clear()  # rolled back: no row refers to them, none was replaced
            uploads.replaced.clear()
        except BaseException:
            self.drop_bytes([stored.key for stored in uploads.stored.values()])
            raise
        self.drop_bytes(uploads.unused() + uploads.replaced)
        return response

    def drop_bytes(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.state.file_store.delete(key)
            except Exception:  # noqa: BLE001 - nothing refers to them: logged, not fatal
                log.exception("could not delete file %s from the file store", key)

    def access_code(self, code: str, client: str) -> Response:
        code = code.strip().upper()
        participant = None
        if well_formed(code, ACCESS_CODE_LENGTH):
            with read_snapshot(self.engine) as conn:
                participant = survey_store.participant_by_access_code(conn, code)
        if participant is not None or self.state.unauthenticated_log.allow("*"):
            project_id = participant.project_id if participant is not None else None
            with write_transaction(self.engine, project_id) as conn:
                log_access_code(conn, participant, client)
        if participant is None:
            return render("access.html", 404, form=True, error="The code is not valid.")
        return RedirectResponse(f"./?s={participant.hash}", status_code=303, headers=HEADERS)

    def queue(self, hash_: str) -> Response:
        with self.writing(_project_of_queue(hash_)) as conn:  # it may make participant rows
            found = (
                survey_store.queue_by_hash(conn, hash_) if well_formed(hash_, HASH_LENGTH) else None
            )
            project = project_store.load_project(conn, found[0]) if found else None
            if found is None or project is None:
                return message("Survey queue not available", NOT_AVAILABLE, 404)
            items = queue_items(conn, project, found[1])
        if not items:
            return message("Survey queue not available", NOT_AVAILABLE, 404)
        return render("queue.html", items=items)

    def load_secret(self) -> bytes:
        if not self._secret:
            with write_transaction(self.engine, None) as conn:  # it may insert: no project's lock
                self._secret.append(server_secret(conn, "survey_forms"))
        return self._secret[0]

    async def surveys_page(self, request: Request) -> Response:
        """Every request to ``/surveys/``: the form token and session cookie around
        :meth:`respond`, and the busy page when the project's write lock stayed taken."""
        key = await run_in_threadpool(self.load_secret)
        https = request.url.scheme == "https"
        cookie = forms.cookie_name(https)
        session = request.cookies.get(cookie, "")
        purpose = request.query_params.get("s", forms.ACCESS_PAGE)
        form: dict[str, list[str]] = {}
        files: dict[str, UploadFile] = {}
        if request.method == "POST":
            posted = await form_lists(request)
            if isinstance(posted, Response):
                return posted
            form, files = posted
            if not forms.valid(key, session, purpose, first_value(form, "csrf")):
                return message("Form expired", FORM_EXPIRED, 403)
        if not forms.well_formed_session(session):
            session = forms.new_session()
        FORM_TOKEN.set(forms.sign(key, session, purpose))
        try:
            response = await self.respond(request, request.query_params, form, files)
        except WriteLockTimeout:  # the project stayed busy with another write: nothing saved
            response = message("Please try again", BUSY, 503)
            response.headers["Retry-After"] = str(BUSY_RETRY_AFTER)
        response.set_cookie(
            cookie,
            session,
            httponly=True,
            samesite="strict",
            secure=https,
            path="/" if https else "/surveys/",
        )
        return response

    async def respond(
        self,
        request: Request,
        params: Any,
        form: dict[str, list[str]],
        files: dict[str, UploadFile],
    ) -> Response:
        """Which page: a posted survey, a typed access code, a link, a queue, or the
        access-code form."""
        state = self.state
        client = request.client.host if request.client else ""
        if request.method == "POST":
            if "s" in params:
                base = state.public_url or f"{request.url.scheme}://{request.url.netloc}"
                return await run_in_threadpool(
                    self.post_survey, params["s"], form, base, files, client
                )
            if not (
                state.code_limiter.allow(address_bucket(client))
                and state.code_limiter_total.allow("*")
            ):
                return render("access.html", 429, form=True, error=TOO_MANY_CODES)
            return await run_in_threadpool(self.access_code, first_value(form, "code"), client)
        if "s" in params:
            return await run_in_threadpool(self.get_survey, params["s"])
        if "sq" in params:
            return await run_in_threadpool(self.queue, params["sq"])
        return render("access.html", form=True, error="")


def _project_of_queue(hash_: str) -> Callable[[Connection], int | None]:
    def find(conn: Connection) -> int | None:
        found = survey_store.queue_by_hash(conn, hash_)
        return found[0] if found is not None else None

    return find if well_formed(hash_, HASH_LENGTH) else lambda conn: None


def build_routes(state: AppState) -> list[Route]:
    """The routes of the survey pages: every survey URL is ``/surveys/`` with a query."""
    pages = SurveyPages(state)
    methods = ["GET", "POST"]
    return [
        Route("/surveys/", pages.surveys_page, methods=methods),
        Route("/surveys", lambda request: RedirectResponse("/surveys/", 308), methods=methods),
    ]
