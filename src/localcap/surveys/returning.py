"""Save & Return Later: who must give the return code, and how guessing it is limited.

A response saved for later (or a completed one, when the survey lets respondents edit completed
responses) opens only with the survey's return code (the one ``surveyReturnCode`` gives): the
link alone no longer shows or changes the answers. The code travels with every later post of
that page (a hidden field of the form the respondent reached by typing it), so each post is
checked again and nothing is kept server-side between pages.

Guessing: after :data:`MAX_FAILURES` wrong codes in a row the response refuses every code,
right or wrong, for :data:`LOCK_MINUTES`. REDCap's own limit is not documented; codes are 8
characters from 31, so five guesses per quarter hour leave nothing to find. A right code
starts the count over.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import Connection

from localcap.db import surveys as survey_store
from localcap.model.surveys import Participant, Survey

MAX_FAILURES = 5
LOCK_MINUTES = 15


class CodeCheck(Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


def needs_return_code(survey: Survey, participant: Participant) -> bool:
    """Whether this response opens only with its return code."""
    if not survey.save_and_return:
        return False
    if participant.completion_time:
        return survey.edit_completed_response
    return participant.partial


def is_closed(survey: Survey, participant: Participant) -> bool:
    """A completed response that cannot be changed: the page only acknowledges it."""
    return bool(participant.completion_time) and not needs_return_code(survey, participant)


def _now() -> datetime:
    return datetime.now(UTC)


def _locked(participant: Participant) -> bool:
    until = participant.return_locked_until
    return bool(until) and datetime.fromisoformat(until) > _now()


def check_return_code(conn: Connection, participant: Participant, code: str) -> CodeCheck:
    """Check a typed return code (case and surrounding spaces ignored), counting failures in
    the caller's transaction (which must be committed even when the answer is WRONG)."""
    if _locked(participant):
        return CodeCheck.LOCKED
    typed = code.strip().upper().encode()
    if participant.return_code and hmac.compare_digest(typed, participant.return_code.encode()):
        if participant.return_failures or participant.return_locked_until:
            survey_store.set_return_lock(conn, participant.participant_id, "")
        return CodeCheck.OK
    if survey_store.note_return_failure(conn, participant.participant_id) >= MAX_FAILURES:
        until = _now() + timedelta(minutes=LOCK_MINUTES)
        survey_store.set_return_lock(conn, participant.participant_id, until.isoformat())
    return CodeCheck.WRONG
