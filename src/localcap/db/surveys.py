"""Surveys in the database: settings, the survey queue, participants and their codes.

A participant row is made the first time a link or code is asked for a (survey, event,
record, instance), and reused ever after: the same request always gives the same link and
codes. The row's uniqueness is enforced by the database (``ix_survey_participants_lookup``);
two requests racing to make it both end up with the one that won.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from localcap.db import schema as t
from localcap.model.project import Project
from localcap.model.surveys import (
    Participant,
    Survey,
    new_access_code,
    new_hash,
    new_return_code,
)

P = t.survey_participants.c


# -- settings ---------------------------------------------------------------------------------
def load_surveys(conn: Connection, project_id: int) -> dict[str, Survey]:
    """Form -> its survey settings, for every survey-enabled instrument of the project."""
    enabled = {
        r.form_name
        for r in conn.execute(
            select(t.forms.c.form_name).where(
                t.forms.c.project_id == project_id, t.forms.c.survey_enabled.is_(True)
            )
        )
    }
    surveys = {
        r.form_name: Survey(r.form_name, orjson.loads(r.settings))
        for r in conn.execute(select(t.surveys).where(t.surveys.c.project_id == project_id))
    }
    return {form: surveys.get(form) or Survey(form, {}) for form in enabled}


def save_survey(
    conn: Connection, project_id: int, form_name: str, settings: dict[str, Any]
) -> None:
    """Enable an instrument as a survey with these settings (replacing earlier ones)."""
    conn.execute(
        delete(t.surveys).where(
            t.surveys.c.project_id == project_id, t.surveys.c.form_name == form_name
        )
    )
    conn.execute(
        insert(t.surveys).values(
            project_id=project_id, form_name=form_name, settings=orjson.dumps(settings).decode()
        )
    )
    _set_enabled(conn, project_id, form_name, True)


def disable_survey(conn: Connection, project_id: int, form_name: str) -> None:
    """Turn an instrument back into a plain form. Its settings stay (REDCap keeps them too),
    so enabling it again restores them; its participants and their links stop working."""
    _set_enabled(conn, project_id, form_name, False)


def _set_enabled(conn: Connection, project_id: int, form_name: str, enabled: bool) -> None:
    conn.execute(
        update(t.forms)
        .where(t.forms.c.project_id == project_id, t.forms.c.form_name == form_name)
        .values(survey_enabled=enabled)
    )


# -- survey queue -----------------------------------------------------------------------------
def load_queue(conn: Connection, project_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    """(event_id, form, settings) of every survey queue entry (event 0 in classic projects)."""
    c = t.survey_queue.c
    return [
        (r.event_id, r.form_name, orjson.loads(r.settings))
        for r in conn.execute(
            select(t.survey_queue)
            .where(c.project_id == project_id)
            .order_by(c.event_id, c.form_name)
        )
    ]


def save_queue_entry(
    conn: Connection, project_id: int, event_id: int, form_name: str, settings: dict[str, Any]
) -> None:
    c = t.survey_queue.c
    conn.execute(
        delete(t.survey_queue).where(
            c.project_id == project_id, c.event_id == event_id, c.form_name == form_name
        )
    )
    conn.execute(
        insert(t.survey_queue).values(
            project_id=project_id,
            event_id=event_id,
            form_name=form_name,
            settings=orjson.dumps(settings).decode(),
        )
    )


def delete_queue_entries(conn: Connection, project_id: int, form_name: str) -> None:
    c = t.survey_queue.c
    conn.execute(delete(t.survey_queue).where(c.project_id == project_id, c.form_name == form_name))


# -- participants ----------------------------------------------------------------------------
def _participant(row: Any) -> Participant:
    return Participant(
        row.participant_id,
        row.project_id,
        row.form_name,
        row.event_id,
        row.record,
        row.instance,
        row.email,
        row.identifier,
        row.hash,
        row.access_code,
        row.return_code,
        row.first_submit_time,
        row.completion_time,
        row.return_failures,
        row.return_locked_until,
    )


def _insert_unique(conn: Connection, make: Callable[[], None], find: Callable[[], Any]) -> Any:
    """Insert in a savepoint; on a unique clash (a racing request made the row, or a random
    code collided) look again and retry with fresh codes."""
    for _ in range(8):
        found = find()
        if found is not None:
            return found
        try:
            with conn.begin_nested():
                make()
        except IntegrityError:
            continue
    found = find()
    if found is None:
        raise RuntimeError("could not make a unique survey code")
    return found


def _find_row(
    conn: Connection, project_id: int, form_name: str, event_id: int, record: str, instance: int
) -> Any:
    return conn.execute(
        select(t.survey_participants).where(
            P.project_id == project_id,
            P.form_name == form_name,
            P.event_id == event_id,
            P.record == record,
            P.instance == instance,
        )
    ).first()


def find_participant(
    conn: Connection, project_id: int, form_name: str, event_id: int, record: str, instance: int
) -> Participant | None:
    """The record's participant row for this survey, event and instance, if one was made."""
    row = _find_row(conn, project_id, form_name, event_id, record, instance)
    return _participant(row) if row is not None else None


def participant_for(
    conn: Connection, project_id: int, form_name: str, event_id: int, record: str, instance: int
) -> Participant:
    """The record's participant row for this survey, event and instance (made if missing)."""

    def find() -> Any:
        return _find_row(conn, project_id, form_name, event_id, record, instance)

    def make() -> None:
        conn.execute(
            insert(t.survey_participants).values(
                project_id=project_id,
                form_name=form_name,
                event_id=event_id,
                record=record,
                instance=instance,
                email="",
                identifier="",
                hash=new_hash(),
                access_code=new_access_code(),
                return_code=new_return_code(),
                first_submit_time="",
                completion_time="",
                return_failures=0,
                return_locked_until="",
            )
        )

    return _participant(_insert_unique(conn, make, find))


def participants_for_records(
    conn: Connection, project_id: int, form_name: str, event_id: int, records: Sequence[str]
) -> list[Participant]:
    """Instance 1 participants of these records, in the order given (made where missing)."""
    return [participant_for(conn, project_id, form_name, event_id, r, 1) for r in records]


def _one(conn: Connection, *where: Any) -> Participant | None:
    row = conn.execute(select(t.survey_participants).where(*where)).first()
    return _participant(row) if row is not None else None


def participant_by_hash(conn: Connection, hash_: str) -> Participant | None:
    return _one(conn, P.hash == hash_) if hash_ else None


def participant_by_access_code(conn: Connection, code: str) -> Participant | None:
    return _one(conn, P.access_code == code) if code else None


def claim_response(
    conn: Connection, participant_id: int, stamp: str, complete: bool, editing: bool
) -> bool:
    """Note a response being saved (``complete``: submitted as finished), as one conditional
    UPDATE: unless ``editing`` a completed response, it changes the row only while the
    response is not completed. False when it was (a simultaneous post completed it first).

    Both backends make this a compare-and-set: PostgreSQL's UPDATE waits for the row lock of
    a concurrent one and re-checks its WHERE on the committed row; SQLite runs one writer at a
    time and this is the save's first write, so it reads the row as the last writer left it.
    """
    values: dict[str, Any] = {
        "first_submit_time": case((P.first_submit_time == "", stamp), else_=P.first_submit_time)
    }
    if complete:
        values["completion_time"] = case((P.completion_time == "", stamp), else_=P.completion_time)
    query = update(t.survey_participants).where(P.participant_id == participant_id)
    if not editing:
        query = query.where(P.completion_time == "")
    return conn.execute(query.values(**values)).rowcount == 1


def response_count(conn: Connection, project_id: int, form_name: str, partials: bool) -> int:
    """How many responses a survey has (every event and instance): completed ones, and with
    ``partials`` the ones saved for later too."""
    column = P.first_submit_time if partials else P.completion_time
    return int(
        conn.execute(
            select(func.count()).where(
                P.project_id == project_id, P.form_name == form_name, column != ""
            )
        ).scalar_one()
    )


def note_return_failure(conn: Connection, participant_id: int) -> int:
    """Count one more wrong return code (atomically, so parallel guesses all count); the count."""
    conn.execute(
        update(t.survey_participants)
        .where(P.participant_id == participant_id)
        .values(return_failures=P.return_failures + 1)
    )
    return int(
        conn.execute(
            select(P.return_failures).where(P.participant_id == participant_id)
        ).scalar_one()
    )


def set_return_lock(conn: Connection, participant_id: int, locked_until: str) -> None:
    """Start (``locked_until`` set) or end (``""``) a lock; either way the count starts over."""
    conn.execute(
        update(t.survey_participants)
        .where(P.participant_id == participant_id)
        .values(return_failures=0, return_locked_until=locked_until)
    )


def forget_records(conn: Connection, project_id: int, records: Iterable[str]) -> None:
    """Deleted records lose their links and codes (a new record of the same name gets new)."""
    names = list(records)
    if not names:
        return
    conn.execute(
        delete(t.survey_participants).where(P.project_id == project_id, P.record.in_(names))
    )
    q = t.survey_queue_links.c
    conn.execute(
        delete(t.survey_queue_links).where(q.project_id == project_id, q.record.in_(names))
    )


def forget_responses(
    conn: Connection,
    project_id: int,
    record: str,
    event_id: int,
    instance: int,
    forms: Iterable[str],
) -> None:
    """An instrument's data was deleted (Delete Records by instrument/event/instance): its
    survey response is gone too, so the participant is back to "no response" (the link opens
    a new form, no return code asked). The link and codes stay the record's."""
    names = list(forms)
    if not names:
        return
    conn.execute(
        update(t.survey_participants)
        .where(
            P.project_id == project_id,
            P.record == record,
            P.event_id == event_id,
            P.instance == instance,
            P.form_name.in_(names),
        )
        .values(first_submit_time="", completion_time="", return_failures=0, return_locked_until="")
    )


# -- survey queue links ----------------------------------------------------------------------
def queue_hash_for(conn: Connection, project_id: int, record: str) -> str:
    """The record's survey queue hash (``/surveys/?sq=<hash>``), made if missing."""
    q = t.survey_queue_links.c

    def find() -> Any:
        row = conn.execute(
            select(q.hash).where(q.project_id == project_id, q.record == record)
        ).first()
        return row.hash if row is not None else None

    def make() -> None:
        conn.execute(
            insert(t.survey_queue_links).values(
                project_id=project_id, record=record, hash=new_hash()
            )
        )

    return str(_insert_unique(conn, make, find))


def queue_by_hash(conn: Connection, hash_: str) -> tuple[int, str] | None:
    """(project_id, record) of a survey queue hash."""
    if not hash_:
        return None
    q = t.survey_queue_links.c
    row = conn.execute(select(q.project_id, q.record).where(q.hash == hash_)).first()
    return (row.project_id, row.record) if row is not None else None


def rename_record(conn: Connection, project_id: int, old: str, new: str) -> None:
    """A renamed record keeps its links and codes."""
    conn.execute(
        update(t.survey_participants)
        .where(P.project_id == project_id, P.record == old)
        .values(record=new)
    )
    q = t.survey_queue_links.c
    conn.execute(
        update(t.survey_queue_links)
        .where(q.project_id == project_id, q.record == old)
        .values(record=new)
    )


def queue_enabled(conn: Connection, project_id: int) -> bool:
    """The survey queue is on when an active entry names a survey of the project."""
    surveys = load_surveys(conn, project_id)
    return any(
        str(settings.get("active", "1")) == "1" and form in surveys
        for _, form, settings in load_queue(conn, project_id)
    )


def participant_records(
    conn: Connection, project: Project, group_id: int | None, event_id: int
) -> list[str]:
    """The records a survey's participant list shows, in record order: those of the DAG
    ``group_id`` (None: all); in a longitudinal project, those with data in an event of
    ``event_id``'s arm."""
    r = t.records.c
    query = select(r.record).where(r.project_id == project.project_id).order_by(r.sort_key)
    if group_id is not None:
        query = query.where(r.group_id == group_id)
    if project.is_longitudinal:
        arm = project.event_by_id[event_id].arm_num
        arm_events = [e.event_id for e in project.events if e.arm_num == arm]
        d = t.record_data.c
        query = query.where(
            r.record.in_(
                select(d.record).where(
                    d.project_id == project.project_id, d.event_id.in_(arm_events)
                )
            )
        )
    return [row.record for row in conn.execute(query)]
