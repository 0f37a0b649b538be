"""The audit-log entries the survey pages write: return codes and access codes.

Both are guesses an attacker could make, so every wrong one is on record (with the
client address), and a reopened response says which one it was.
"""

from __future__ import annotations

from sqlalchemy import Connection

from localcap.db.audit import log_survey_event
from localcap.model.audit import printable
from localcap.model.surveys import (
    Participant,
)
from localcap.surveys.returning import CodeCheck
from localcap.surveys.survey_page import SurveyPage


def _where(page: SurveyPage) -> str:
    """Which response, for the audit log (the record name printed safely)."""
    p = page.participant
    return f"record {printable(p.record or '')}, instrument {p.form_name}, instance {p.instance}"


def log_return_code(conn: Connection, page: SurveyPage, checked: CodeCheck, client: str) -> None:
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


def log_access_code(conn: Connection, participant: Participant | None, client: str) -> None:
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
