"""A record's survey queue (``?sq=``): which surveys it lists and whether each is done.

An entry is listed when its survey is enabled, in an event of the record's arm and
designated for it, and the record completed it or its conditions are met now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from localcap.db import surveys as survey_store
from localcap.model.project import Project
from localcap.model.rows import StoredRow
from localcap.model.surveys import (
    QueueCondition,
    in_records_arm,
)
from localcap.surveys.branching import logic_true
from localcap.surveys.response import (
    load_record,
)


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
