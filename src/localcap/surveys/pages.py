"""The survey pages localcap serves beside the API: ``/surveys/?s=``, ``?sq=`` and access codes.

Server-rendered HTML (Jinja2, autoescaping on) without scripts or external assets. Labels,
notes and choices come from a project's dictionary, which anyone able to import metadata
controls: they are rendered through :func:`rich` (a whitelist of text formatting tags, no
attributes, via the nh3 sanitizer) and everything else is escaped. A strict
Content-Security-Policy forbids scripts outright, as a second line.

Access-code tries are limited per client address (``AppState.survey_code_attempts`` a
minute; an IPv6 client counts by its /64) and for all addresses together
(``survey_code_attempts_total``); what REDCap allows is undocumented, this is localcap's
choice: a code is about 45 bits, and unlimited tries against a project with many participants
would let a script find someone's code in days. The client address is the connection's peer
unless the peer is a proxy the operator named (``localcap serve --forwarded-allow-ips``).

Forms carry a token signed with the server's secret for the browser's session cookie and the
link (:mod:`.forms`): another site cannot post answers in a participant's name, and a token
cannot be made up. Link hashes are secrets, so pages are sent with
``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``.

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
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import nh3
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from localcap.api.context import AppState
from localcap.api.errors import ApiError
from localcap.api.methods.files import StoredUpload, put_upload
from localcap.api.methods.surveys import survey_link
from localcap.api.request import limit_body
from localcap.db import documents as docs
from localcap.db import projects as project_store
from localcap.db import surveys as survey_store
from localcap.db.audit import log_survey_event
from localcap.db.secrets import server_secret
from localcap.db.transactions import WriteLockTimeout, read_snapshot, write_transaction
from localcap.limits import BUSY_RETRY_AFTER
from localcap.model.action_tags import survey_tags
from localcap.model.audit import printable
from localcap.model.piping import Lookup, pipe, row_lookup
from localcap.model.project import Field, Project
from localcap.model.record_import import RecordImportError
from localcap.model.rows import StoredRow
from localcap.model.surveys import (
    ACCESS_CODE_LENGTH,
    EXPIRED_TEXT,
    HASH_ALPHABET,
    HASH_LENGTH,
    Participant,
    QueueCondition,
    Survey,
    in_records_arm,
)
from localcap.ratelimit import address_bucket
from localcap.surveys import forms
from localcap.surveys.branching import (
    calctext_values,
    logic_true,
    shown_headers,
    visible_fields,
)
from localcap.surveys.response import (
    ANSWERABLE,
    REQUIRED_MESSAGE,
    Saved,
    Submission,
    attach_files,
    input_fields,
    load_record,
    opening_submission,
    participant_row,
    read_submission,
    save_response,
    saved_submission,
    survey_fields,
    upload_fields,
)
from localcap.surveys.returning import CodeCheck, check_return_code, is_closed, needs_return_code

if TYPE_CHECKING:
    from localcap.files.store import FileStore

log = logging.getLogger("localcap")

#: The signed form token of the page being rendered (set per request by ``surveys_page``).
_FORM_TOKEN: ContextVar[str] = ContextVar("survey_form_token", default="")
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
#: A page with file-upload fields posts its files too (localcap's limit for a survey's files).
MAX_UPLOAD_BYTES = 32 << 20
MAX_FILES = 20
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
    #: The piping lookup, made once for the rows it was made from.
    _piping: tuple[list[StoredRow], Lookup] | None = field(default=None, repr=False)

    @property
    def form_name(self) -> str:
        return self.participant.form_name

    def visible(self, sub: Submission) -> set[str]:
        """The fields shown: branching logic's choice, without those an action tag hides."""
        shown = visible_fields(self.project, self.participant, self.rows, self.group_id, sub)
        return {
            f.field_name
            for f in survey_fields(self.project, self.form_name)
            if f.field_name in shown and not survey_tags(f).hidden
        }

    def pipe(self, text: str, escape: bool = True) -> str:
        """Text with the record's saved values piped in (:mod:`localcap.model.piping`)."""
        if self._piping is None or self._piping[0] is not self.rows:
            self._piping = (self.rows, self._lookup())
        return pipe(self.project, text or "", self._piping[1], escape=escape)

    def _lookup(self) -> Lookup:
        """Values by (event, form): the participant's own instance of its event and form,
        instance 1 elsewhere."""
        p = self.participant
        rows: dict[tuple[int, str], dict[str, object]] = {}
        for row in self.rows:
            own_event = row.event_id == p.event_id
            if row.repeat_instrument:
                if (
                    row.repeat_instrument == p.form_name
                    and own_event
                    and row.instance == p.instance
                ):
                    rows[(row.event_id, row.repeat_instrument)] = row.data
                continue
            wanted = p.instance if own_event and self.project.is_repeating_event(p.event_id) else 1
            if row.instance == wanted:
                for form in self.project.forms_in_event(row.event_id):
                    rows[(row.event_id, form)] = row.data
        return row_lookup(self.project, rows, p.event_id)

    def shown_values(self, sub: Submission, visible: set[str]) -> dict[str, str]:
        """The text shown for the visible fields that are not inputs: ``@CALCTEXT`` results,
        and read-only fields' stored values (choice labels for choice fields)."""
        data = participant_row(self.project, self.participant, self.rows)
        shown = {
            f.field_name: _display(f, data.get(f.field_name))
            for f in survey_fields(self.project, self.form_name)
            if f.field_name in visible and f.has_data and survey_tags(f).readonly
        }
        shown.update(calctext_values(self.project, self.participant, self.rows, self.group_id, sub))
        return shown


def _display(f: Field, stored: object) -> str:
    """A stored value as a read-only field shows it."""
    if stored is None:
        return ""
    if isinstance(stored, list):
        return ", ".join(f.choices.get(code, code) for code in stored)
    return f.choices.get(str(stored), str(stored))


def _render(template: str, status: int = 200, form: bool = False, **context: Any) -> Response:
    """A page; ``form``: it has a form, which gets the request's signed token."""
    csrf = _FORM_TOKEN.get() if form else ""
    body = _env.get_template(template).render(csrf=csrf, **context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _message(title: str, text: str, status: int = 200) -> Response:
    return _render("message.html", status, title=title, text=text)


def well_formed(code: str, length: int) -> bool:
    """Whether a link hash or code from the URL or form could be one localcap made. Anything
    else never reaches the database (PostgreSQL refuses a NUL byte in a query with an error)."""
    return len(code) == length and all(c in HASH_ALPHABET for c in code)


def _load(conn: Connection, hash_: str) -> SurveyPage | None:
    """What a link opens, or None when it leads nowhere any more: an unknown hash, a deleted
    record, project or event, an instrument no longer a survey or no longer in its event, an
    event of an arm the record is not in."""
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
    if participant.form_name not in project.forms_in_event(participant.event_id):
        return None  # the event was deleted, or the instrument taken out of it
    rows, group_id = load_record(conn, project, participant.record)
    if not in_records_arm(project, participant.event_id, (row.event_id for row in rows)):
        return None
    data = participant_row(project, participant, rows)
    if (
        not participant.completion_time
        and str(data.get(f"{participant.form_name}_complete")) == "2"
    ):
        # completed by staff on a data entry form (or an import): REDCap's link then says
        # the survey was already completed instead of opening a blank form
        stamp = str(data.get(f"{participant.form_name}_timestamp") or "completed")
        participant = replace(participant, completion_time=stamp)
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
    inputs = {f.field_name for f in input_fields(page.project, page.form_name)}
    uploads = {f.field_name for f in upload_fields(page.project, page.form_name)}
    stored = participant_row(page.project, page.participant, page.rows)
    return _render(
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


def _opening_form(page: SurveyPage) -> Response:
    """The page a link opens: the record's stored answers (and action tags' initial values)."""
    return _show_form(
        page, opening_submission(page.project, page.participant, page.rows, datetime.now())
    )


def _ask_code(page: SurveyPage, error: str = "", status: int = 200) -> Response:
    return _render(
        "return.html",
        status,
        form=True,
        survey=page.survey,
        completed=bool(page.participant.completion_time),
        error=error,
    )


def _acknowledge(page: SurveyPage) -> Response:
    return _render("done.html", survey=page.survey, pipe=page.pipe)


def _saved(page: SurveyPage, base: str) -> Response:
    return _render(
        "saved.html",
        survey=page.survey,
        return_code=page.participant.return_code,
        link=survey_link(base, page.participant.hash),
    )


def _no_more_responses(conn: Connection, page: SurveyPage) -> Response | None:
    """The page of a survey past its ``survey_expiration`` or at its ``response_limit``, for a
    respondent whose response is not already counted (None: the survey takes responses)."""
    survey, participant = page.survey, page.participant
    if survey.expired(datetime.now()):
        return _message(survey.title or "Survey closed", EXPIRED_TEXT)
    limit = survey.response_limit
    if not limit or (participant.partial and survey.limit_counts_partials):
        return None
    count = survey_store.response_count(
        conn, page.project.project_id, page.form_name, survey.limit_counts_partials
    )
    if count >= limit:
        return _render("closed.html", survey=survey)
    return None


def _first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _revealed(page: SurveyPage, form: dict[str, list[str]], visible: set[str]) -> bool:
    """Whether these answers show a question the respondent's page had hidden."""
    was_hidden = set(_first(form, "was_hidden").split())
    return any(
        f.field_name in visible and f.field_name in was_hidden
        for f in input_fields(page.project, page.form_name)
    )


@dataclass
class Uploads:
    """The files posted with a page and what became of them, in Import File's durability
    order: bytes put in the file store before the project's write lock is taken (``stored``,
    by field; deleted again unless the save commits and refers to them, ``attached``) and
    replaced bytes to delete once it has (``replaced``)."""

    files: dict[str, UploadFile]
    store: FileStore | None = None
    stored: dict[str, StoredUpload] = field(default_factory=dict)
    attached: set[str] = field(default_factory=set)
    replaced: list[str] = field(default_factory=list)

    def put(self, page: SurveyPage, form: dict[str, list[str]]) -> None:
        """Write the files posted for the upload fields these answers show to the store. Done
        before the write transaction: a 32 MB upload to S3 must not keep every other writer
        waiting (SQLite's write lock is the whole database's). The save checks again, under
        the lock, which of them it attaches."""
        if self.store is None:
            return
        visible = page.visible(read_submission(page.project, page.form_name, form))
        for f in upload_fields(page.project, page.form_name):
            upload = self.files.get(f.field_name)
            if f.field_name in visible and upload is not None and upload.filename:
                self.stored[f.field_name] = put_upload(self.store, upload)

    def unused(self) -> list[str]:
        """Stored bytes no committed row refers to."""
        return [s.key for s in self.stored.values() if s.key not in self.attached]


def _attach(conn: Connection, page: SurveyPage, uploads: Uploads, visible: set[str]) -> None:
    """Save the files posted for the page's visible upload fields (their bytes already in the
    store, with Import File's mime sniffing), each a new ``documents`` row the field points
    at."""
    chosen = {
        f.field_name: uploads.stored[f.field_name]
        for f in upload_fields(page.project, page.form_name)
        if f.field_name in visible and f.field_name in uploads.stored
    }
    if not chosen:
        return
    pid = page.project.project_id
    documents = {}
    for name, stored in chosen.items():
        documents[name] = stored.insert(conn, pid)
        uploads.attached.add(stored.key)
    for old in attach_files(conn, page.project, page.participant, documents):
        removed = docs.delete_document(conn, pid, old)
        if removed is not None:
            uploads.replaced.append(removed.store_key)


def _missing_files(page: SurveyPage, uploads: Uploads, visible: set[str]) -> dict[str, str]:
    """Required upload fields shown on the page with no file stored and none posted."""
    stored = participant_row(page.project, page.participant, page.rows)
    return {
        f.field_name: REQUIRED_MESSAGE
        for f in upload_fields(page.project, page.form_name)
        if f.required_field.strip().lower() == "y"
        and f.field_name in visible
        and not stored.get(f.field_name)
        and not (f.field_name in uploads.files and uploads.files[f.field_name].filename)
    }


def _answer(
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
    later = bool(_first(form, "save_return")) and page.survey.save_and_return
    completed = bool(page.participant.completion_time)
    if not (later and not completed) and _revealed(page, form, visible):
        return _show_form(page, sub, return_code=code, notice=MORE_QUESTIONS)
    complete = not (later and not completed)
    missing = _missing_files(page, uploads, visible) if complete else {}
    if missing:
        sub.errors = missing
        return _show_form(page, sub, 400, return_code=code)
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
        return _acknowledge(page)
    if saved is Saved.INVALID:
        return _show_form(page, sub, 400, return_code=code)
    _attach(conn, page, uploads, visible)
    if not complete:
        return _saved(page, base)
    assert page.participant.record is not None
    page.rows, _ = load_record(conn, page.project, page.participant.record)
    return _acknowledge(page)  # with the answers just saved piped in


def queue_items(conn: Connection, project: Project, record: str) -> list[dict[str, Any]]:
    """The record's survey queue: each active entry whose survey is enabled, in an event of
    the record's arm and designated for it, that the record completed or whose conditions
    (:class:`QueueCondition`) are met now."""
    pid = project.project_id
    surveys = survey_store.load_surveys(conn, pid)
    rows, group_id = load_record(conn, project, record)
    data_events = {row.event_id for row in rows}
    items = []
    for event_id, form, settings in survey_store.load_queue(conn, pid):
        if form not in surveys or str(settings.get("active", "1")) != "1":
            continue
        if form not in project.forms_in_event(event_id):
            continue
        if not in_records_arm(project, event_id, data_events):
            continue
        p = survey_store.find_participant(conn, pid, form, event_id, record, 1)
        done = p is not None and bool(p.completion_time)
        if not done and not _queue_condition_met(
            conn, project, record, rows, group_id, event_id, QueueCondition.of(settings)
        ):
            continue
        if p is None:
            p = survey_store.participant_for(conn, pid, form, event_id, record, 1)
        event = project.event_by_id.get(event_id)
        items.append(
            {
                "title": surveys[form].title or project.form_by_name[form].form_label,
                "event": project.event_label(event) if event else "",
                "hash": p.hash,
                "done": done,
            }
        )
    return items


def _queue_condition_met(
    conn: Connection,
    project: Project,
    record: str,
    rows: list[StoredRow],
    group_id: int | None,
    event_id: int,
    condition: QueueCondition,
) -> bool:
    completed = False
    if condition.survey_form:
        event = project.event_by_name.get(condition.survey_event)
        gate_event = event.event_id if event is not None else event_id
        if not project.is_longitudinal:
            gate_event = event_id
        gate = survey_store.find_participant(
            conn, project.project_id, condition.survey_form, gate_event, record, 1
        )
        completed = gate is not None and bool(gate.completion_time)
    logic = bool(condition.logic) and logic_true(
        project, record, rows, group_id, event_id, condition.logic
    )
    return condition.met(completed, logic)


async def _form_lists(
    request: Request,
) -> tuple[dict[str, list[str]], dict[str, UploadFile]] | Response:
    """The posted form's values by name and its files, or the error page for a body too large
    or unreadable (a page posts a few kilobytes, or its uploads: nothing bigger is read)."""
    multipart = request.headers.get("content-type", "").startswith("multipart/")
    limit = MAX_UPLOAD_BYTES if multipart else MAX_BODY_BYTES
    try:
        form = await limit_body(request, limit).form(
            max_files=MAX_FILES, max_fields=MAX_FORM_FIELDS
        )
    except ApiError:
        return _message("Too large", "The answers sent are too large.", 413)
    except Exception:  # the multipart parser's errors: a malformed body is the sender's fault
        return _message("Not readable", "The answers sent could not be read.", 400)
    lists: dict[str, list[str]] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
        else:
            files.setdefault(key, value)
    return lists, files


def _where(page: SurveyPage) -> str:
    """Which response, for the audit log (the record name printed safely)."""
    p = page.participant
    return f"record {printable(p.record or '')}, instrument {p.form_name}, instance {p.instance}"


def _log_return_code(conn: Connection, page: SurveyPage, checked: CodeCheck, client: str) -> None:
    """Audit the return-code step: a response reopened, or a wrong code."""
    what = {
        CodeCheck.OK: "Survey response reopened with its return code",
        CodeCheck.WRONG: "Wrong survey return code entered",
    }[checked]
    log_survey_event(
        conn,
        page.project.project_id,
        f"{what} ({_where(page)})",
        record=page.participant.record,
        client=client,
    )


def _log_access_code(conn: Connection, participant: Participant | None, client: str) -> None:
    """Audit an access code typed on the survey start page: which survey it opened, or a wrong
    code (no project to file it under: ``localcap audit`` lists it with the client address)."""
    if participant is None:
        log_survey_event(conn, None, "Wrong survey access code entered", client=client)
        return
    log_survey_event(
        conn,
        participant.project_id,
        f"Survey access code used (record {printable(participant.record or '')}, "
        f"instrument {participant.form_name}, instance {participant.instance})",
        record=participant.record,
        client=client,
    )


def build_routes(state: AppState) -> list[Route]:
    engine = state.engine

    def writing(
        find_project: Callable[[Connection], int | None],
    ) -> AbstractContextManager[Connection]:
        """The write transaction of the project a link belongs to (found first, in a read)."""
        with read_snapshot(engine) as conn:
            project_id = find_project(conn)
        return write_transaction(engine, project_id)

    def project_of_queue(hash_: str) -> Callable[[Connection], int | None]:
        def find(conn: Connection) -> int | None:
            found = survey_store.queue_by_hash(conn, hash_)
            return found[0] if found is not None else None

        return find if well_formed(hash_, HASH_LENGTH) else lambda conn: None

    def open_page(conn: Connection, hash_: str) -> SurveyPage | Response:
        """The link's page, or the page that answers instead: not available, the
        acknowledgement of a closed response, or the survey's limits reached."""
        page = _load(conn, hash_)
        if page is None:
            return _message("Survey not available", NOT_AVAILABLE, 404)
        if is_closed(page.survey, page.participant):
            return _acknowledge(page)
        if not page.participant.completion_time:
            closed = _no_more_responses(conn, page)
            if closed is not None:
                return closed
        return page

    def get_survey(hash_: str) -> Response:
        with read_snapshot(engine) as conn:  # the page and the response count: one state
            page = open_page(conn, hash_)
        if isinstance(page, Response):
            return page
        if needs_return_code(page.survey, page.participant):
            return _ask_code(page)
        return _opening_form(page)

    def post_survey(
        hash_: str,
        form: dict[str, list[str]],
        base: str,
        files: dict[str, UploadFile],
        client: str,
    ) -> Response:
        uploads = Uploads(files, state.file_store if files else None)
        with read_snapshot(engine) as conn:  # which project, and which fields take files
            page = _load(conn, hash_)
        if page is None:
            return _message("Survey not available", NOT_AVAILABLE, 404)
        try:
            uploads.put(page, form)
            with write_transaction(engine, page.project.project_id) as conn:
                response = answer_survey(conn, hash_, form, base, uploads, client)
        except RecordImportError:  # the record went away under the save: nothing was written
            response = _message("Survey not available", NOT_AVAILABLE, 404)
            uploads.attached.clear()  # rolled back: no row refers to them, none was replaced
            uploads.replaced.clear()
        except BaseException:
            drop_bytes([stored.key for stored in uploads.stored.values()])
            raise
        drop_bytes(uploads.unused() + uploads.replaced)
        return response

    def drop_bytes(keys: list[str]) -> None:
        for key in keys:
            try:
                state.file_store.delete(key)
            except Exception:  # noqa: BLE001 - nothing refers to them: logged, not fatal
                log.exception("could not delete file %s from the file store", key)

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
            code = _first(form, "return_code")
            checked = check_return_code(conn, page.participant, code)
            # (a locked response's refusals are not logged: its wrong codes were, and a
            # script hammering it must not fill the log)
            if checked is CodeCheck.WRONG or (checked is CodeCheck.OK and _first(form, "begin")):
                _log_return_code(conn, page, checked, client)
            if checked is CodeCheck.LOCKED:
                return _ask_code(page, LOCKED, 429)
            if checked is CodeCheck.WRONG:
                return _ask_code(page, WRONG_CODE, 403)
            if _first(form, "begin"):
                sub = saved_submission(page.project, page.participant, page.rows)
                return _show_form(page, sub, return_code=code)
        return _answer(conn, page, form, code, base, uploads)

    def access_code(code: str, client: str) -> Response:
        # Counted in the database (shared by every process): a thread's work, not the loop's.
        if not (
            state.code_limiter.allow(address_bucket(client)) and state.code_limiter_total.allow("*")
        ):
            return _render("access.html", 429, form=True, error=TOO_MANY_CODES)
        code = code.strip().upper()
        participant = None
        if well_formed(code, ACCESS_CODE_LENGTH):
            with read_snapshot(engine) as conn:
                participant = survey_store.participant_by_access_code(conn, code)
        if participant is not None or state.unauthenticated_log.allow("*"):
            project_id = participant.project_id if participant is not None else None
            with write_transaction(engine, project_id) as conn:
                _log_access_code(conn, participant, client)
        if participant is None:
            return _render("access.html", 404, form=True, error="The code is not valid.")
        return RedirectResponse(f"./?s={participant.hash}", status_code=303, headers=HEADERS)

    def queue(hash_: str) -> Response:
        with writing(project_of_queue(hash_)) as conn:  # it may make participant rows
            found = (
                survey_store.queue_by_hash(conn, hash_) if well_formed(hash_, HASH_LENGTH) else None
            )
            project = project_store.load_project(conn, found[0]) if found else None
            if found is None or project is None:
                return _message("Survey queue not available", NOT_AVAILABLE, 404)
            items = queue_items(conn, project, found[1])
        if not items:
            return _message("Survey queue not available", NOT_AVAILABLE, 404)
        return _render("queue.html", items=items)

    secret: list[bytes] = []

    def load_secret() -> bytes:
        if not secret:
            with write_transaction(engine, None) as conn:  # it may insert: no project's lock
                secret.append(server_secret(conn, "survey_forms"))
        return secret[0]

    async def surveys_page(request: Request) -> Response:
        params = request.query_params
        key = await run_in_threadpool(load_secret)
        https = request.url.scheme == "https"
        cookie = forms.cookie_name(https)
        session = request.cookies.get(cookie, "")
        purpose = params.get("s", forms.ACCESS_PAGE)
        if request.method == "POST":
            posted = await _form_lists(request)
            if isinstance(posted, Response):
                return posted
            form, files = posted
            if not forms.valid(key, session, purpose, _first(form, "csrf")):
                return _message(
                    "Form expired",
                    "This form has expired or was sent from another site. Open the survey "
                    "link again.",
                    403,
                )
        if not forms.well_formed_session(session):
            session = forms.new_session()
        _FORM_TOKEN.set(forms.sign(key, session, purpose))
        if request.method != "POST":
            form, files = {}, {}
        try:
            response = await respond(request, params, form, files)
        except WriteLockTimeout:  # the project stayed busy with another write: nothing saved
            response = _message(
                "Please try again",
                "The survey is busy with another change; nothing was saved. Go back and send "
                "your answers again in a few seconds.",
                503,
            )
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
        request: Request,
        params: Any,
        form: dict[str, list[str]],
        files: dict[str, UploadFile],
    ) -> Response:
        client = request.client.host if request.client else ""
        if request.method == "POST":
            if "s" in params:
                base = state.public_url or f"{request.url.scheme}://{request.url.netloc}"
                return await run_in_threadpool(post_survey, params["s"], form, base, files, client)
            return await run_in_threadpool(access_code, _first(form, "code"), client)
        if "s" in params:
            return await run_in_threadpool(get_survey, params["s"])
        if "sq" in params:
            return await run_in_threadpool(queue, params["sq"])
        return _render("access.html", form=True, error="")

    methods = ["GET", "POST"]
    return [
        Route("/surveys/", surveys_page, methods=methods),
        Route("/surveys", lambda request: RedirectResponse("/surveys/", 308), methods=methods),
    ]
