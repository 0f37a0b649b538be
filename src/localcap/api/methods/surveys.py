"""The Surveys API methods: participant list, survey link, queue link, access and return codes.

What is known of REDCap (its API documentation, REDCapR's and PyCap's recorded tests):

* Links are ``<base>/surveys/?s=<hash>`` and ``<base>/surveys/?sq=<hash>``; access codes have
  9 characters, return codes 8; the four single-value methods answer in plain text.
* A missing record: 400 ``The record "-1" does not exist`` (REDCapR's test against REDCap).
* The participant list's keys (REDCap's documentation; ``survey_queue_link`` last, as newer
  REDCaps send it): see :data:`PARTICIPANT_KEYS`. JSON numbers for the counts and statuses
  (PyCap's recorded fixtures).
* Permissions: REDCap's documentation asks for API Export and says users without the
  Survey Distribution Tools right (``manage_survey_participants``) get an error. localcap
  requires both for all five methods.

Decided here, REDCap's wording being unknown: the texts of the other errors (instrument not a
survey, bad event, bad instance, queue not enabled, return codes not enabled, no survey
rights); a record of another Data Access Group is reported as not existing, as Export Records
hides it; repeat_instance is ignored (taken as 1) where the instrument does not repeat, so
that one response never has two links. The participant list has one row per record (in the
caller's DAG, and for longitudinal projects with data in the event's arm), made on demand like
the links: REDCap lists every record of a project as a participant of every survey. The
``phone`` column REDCap adds when SMS (Twilio) is on is left out: localcap has no SMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from starlette.responses import PlainTextResponse, Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import list_response
from localcap.db import surveys as survey_store
from localcap.db.records import existing_records
from localcap.model.numbers import MAX_ID, small_int
from localcap.model.project import CLASSIC_EVENT_ID
from localcap.model.surveys import Participant, Survey, queue_link, survey_link

NO_SURVEY_RIGHTS = (
    "You do not have permissions to use this method: Survey Distribution Tools privileges "
    "(Manage Survey Participants) are required"
)
PARTICIPANT_KEYS = (
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
)


def survey_base(ctx: ApiContext) -> str:
    """Where participants reach this server: ``--public-url``, else the request's own host."""
    return ctx.state.public_url or ctx.request.server_url


def _text(value: str) -> Response:
    return PlainTextResponse(value, media_type="text/plain")


def _require_rights(ctx: ApiContext) -> None:
    ctx.require_export()
    ctx.require("manage_survey_participants", NO_SURVEY_RIGHTS)


@dataclass
class Target:
    """A checked (survey, event, record, instance) of a request."""

    survey: Survey
    event_id: int
    record: str
    instance: int


def _survey(ctx: ApiContext, conn: Connection) -> Survey:
    instrument = ctx.request.get("instrument").strip()
    if not instrument:
        raise ApiError(400, "The parameter 'instrument' is missing")
    if instrument not in ctx.project.form_by_name:
        raise ApiError(400, f'The instrument "{instrument}" does not exist')
    survey = survey_store.load_surveys(conn, ctx.project.project_id).get(instrument)
    if survey is None:
        raise ApiError(400, f'The instrument "{instrument}" is not enabled as a survey')
    return survey


def _event_id(ctx: ApiContext, form_name: str) -> int:
    project = ctx.project
    name = ctx.request.get("event").strip()
    if not project.is_longitudinal:
        return CLASSIC_EVENT_ID
    if not name:
        raise ApiError(
            400, "The parameter 'event' is missing (it is required in longitudinal projects)"
        )
    event = project.event_by_name.get(name)
    if event is None:
        raise ApiError(400, f'The event "{name}" does not exist')
    if form_name not in project.forms_in_event(event.event_id):
        raise ApiError(
            400, f'The instrument "{form_name}" is not designated for the event "{name}"'
        )
    return event.event_id


def _record(ctx: ApiContext, conn: Connection) -> str:
    record = ctx.request.get("record").strip()
    if not record:
        raise ApiError(400, "The parameter 'record' is missing")
    found = existing_records(conn, ctx.project.project_id, [record])
    if record not in found or (ctx.group_id is not None and found[record] != ctx.group_id):
        raise ApiError(400, f'The record "{record}" does not exist')
    if ctx.audit is not None:
        ctx.audit.records = [record]
    return record


def _instance(ctx: ApiContext, event_id: int, form_name: str) -> int:
    text = ctx.request.get("repeat_instance", "1").strip() or "1"
    instance = small_int(text, MAX_ID, minimum=1)
    if instance is None:
        raise ApiError(400, f'The repeat_instance "{text}" is not a positive integer')
    project = ctx.project
    repeats = project.is_repeating_form(event_id, form_name) or project.is_repeating_event(event_id)
    return int(text) if repeats else 1


def _target(ctx: ApiContext, conn: Connection) -> Target:
    _require_rights(ctx)
    survey = _survey(ctx, conn)
    event_id = _event_id(ctx, survey.form_name)
    record = _record(ctx, conn)
    return Target(survey, event_id, record, _instance(ctx, event_id, survey.form_name))


def _participant(ctx: ApiContext) -> tuple[Target, Participant]:
    with ctx.write_transaction() as conn:
        target = _target(ctx, conn)
        participant = survey_store.participant_for(
            conn,
            ctx.project.project_id,
            target.survey.form_name,
            target.event_id,
            target.record,
            target.instance,
        )
    return target, participant


def export_survey_link(ctx: ApiContext) -> Response:
    _, participant = _participant(ctx)
    return _text(survey_link(survey_base(ctx), participant.hash))


def export_survey_access_code(ctx: ApiContext) -> Response:
    _, participant = _participant(ctx)
    return _text(participant.access_code)


def export_survey_return_code(ctx: ApiContext) -> Response:
    target, participant = _participant(ctx)
    if not target.survey.save_and_return:
        raise ApiError(
            400,
            f'Survey return codes are not enabled for the instrument "{target.survey.form_name}": '
            "its survey settings have Save & Return Later off",
        )
    return _text(participant.return_code)


def export_survey_queue_link(ctx: ApiContext) -> Response:
    _require_rights(ctx)
    pid = ctx.project.project_id
    with ctx.write_transaction() as conn:
        if not survey_store.queue_enabled(conn, pid):
            raise ApiError(400, "The survey queue is not enabled in this project")
        record = _record(ctx, conn)
        hash_ = survey_store.queue_hash_for(conn, pid, record)
    return _text(queue_link(survey_base(ctx), hash_))


def export_participant_list(ctx: ApiContext) -> Response:
    _require_rights(ctx)
    pid = ctx.project.project_id
    base = survey_base(ctx)
    items: list[dict[str, Any]] = []
    with ctx.write_transaction() as conn:
        survey = _survey(ctx, conn)
        event_id = _event_id(ctx, survey.form_name)
        records = survey_store.participant_records(conn, ctx.project, ctx.group_id, event_id)
        with_queue = survey_store.queue_enabled(conn, pid)
        seen: dict[str, int] = {}
        for p in survey_store.participants_for_records(
            conn, pid, survey.form_name, event_id, records
        ):
            occurrence: int | str = ""
            if p.email:
                seen[p.email] = occurrence = seen.get(p.email, 0) + 1
            items.append(
                {
                    "email": p.email,
                    "email_occurrence": occurrence,
                    "identifier": p.identifier,
                    "record": p.record or "",
                    "invitation_sent_status": 0,
                    "invitation_send_time": "",
                    "response_status": p.response_status,
                    "survey_access_code": p.access_code,
                    "survey_link": survey_link(base, p.hash),
                    "survey_queue_link": (
                        queue_link(base, survey_store.queue_hash_for(conn, pid, p.record))
                        if with_queue and p.record
                        else ""
                    ),
                }
            )
    if ctx.audit is not None:
        ctx.audit.records = records
        ctx.audit.row_counter = lambda: len(items)
    return list_response(ctx, items, PARTICIPANT_KEYS)
