"""Creating a project the way REDCap's Create Project does (without a project XML)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from localcap.db import projects as store
from localcap.db.tokens import create_project_token
from localcap.model.project import Arm, Event, Field
from localcap.model.rights import Rights

#: A new REDCap project starts with one instrument holding the record ID field.
FIRST_FIELD = Field(
    field_name="record_id",
    form_name="my_first_instrument",
    field_type="text",
    field_label="Record ID",
)


def create_blank_project(
    conn: Connection, username: str, title: str, longitudinal: bool, info: dict[str, Any]
) -> tuple[int, str]:
    """A new project as REDCap makes one: its first instrument with the record ID field (a
    longitudinal one also gets Arm 1 with Event 1 holding that instrument), the creator a
    user with every right REDCap gives a creator. Answers (project id, the creator's token).
    No project lock is needed: nothing else can see the project before ``conn`` commits."""
    pid = store.create_project(conn, title, longitudinal, info)
    project = store.load_project(conn, pid)
    assert project is not None
    store.replace_metadata(conn, project, [FIRST_FIELD])
    if longitudinal:
        store.replace_arms(conn, pid, [Arm(1, "Arm 1")], override=False)
        store.save_events(conn, pid, [Event(0, 1, "Event 1", "event_1_arm_1")], override=False)
        project = store.load_project(conn, pid)
        assert project is not None
        store.replace_event_forms(
            conn, pid, [(project.events[0].event_id, FIRST_FIELD.form_name)], {1}
        )
    project = store.load_project(conn, pid)
    store.save_project_user(conn, pid, username, Rights.full(project), None)
    return pid, create_project_token(conn, pid, username)
