"""Create Project, the use case: a new project with its first design, and its owner.

Three front ends create projects: the API's Create Project (a super token), the project XML
import (API ``odm`` and ``localcap project import``) and the demo. Each brings its own
design; the steps that store it -- the project row, the data dictionary, a longitudinal
project's arms, events and their instruments -- and the steps that hand it to its creator
(full rights, a new API token) are these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from localcap.db import projects as store
from localcap.db.tokens import create_project_token
from localcap.model.project import Arm, Event, Field, Project
from localcap.model.rights import Rights


@dataclass(frozen=True)
class Schedule:
    """A longitudinal project's arms, its events and the instruments each event holds."""

    arms: Sequence[Arm]
    events: Sequence[Event]  # not stored yet: their event_id is not used
    event_forms: Sequence[tuple[str, str]]  # (unique event name, form name)


def create_project(
    conn: Connection,
    title: str,
    info: dict[str, Any],
    fields: Sequence[Field],
    schedule: Schedule | None = None,
) -> Project:
    """Store a new project in the caller's transaction and return its design.

    Its instruments follow the fields' form names; with a ``schedule`` it is longitudinal
    (the caller has checked that every form it names is one of the fields' forms)."""
    pid = store.create_project(conn, title, schedule is not None, info)
    project = store.load_project(conn, pid)
    assert project is not None
    store.replace_metadata(conn, project, fields)
    if schedule is not None:
        store.replace_arms(conn, pid, schedule.arms, override=False)
        store.save_events(conn, pid, schedule.events, override=False)
        project = store.load_project(conn, pid)
        assert project is not None
        mapping = [
            (project.event_by_name[event].event_id, form) for event, form in schedule.event_forms
        ]
        store.replace_event_forms(conn, pid, mapping, {arm.arm_num for arm in schedule.arms})
    project = store.load_project(conn, pid)
    assert project is not None
    return project


def make_owner(conn: Connection, project: Project, username: str) -> str:
    """Give ``username`` (created if new) full rights to the project it just created, and
    return its new project API token: what REDCap gives a project's creator."""
    store.ensure_user(conn, username)
    store.save_project_user(conn, project.project_id, username, Rights.full(project), None)
    return create_project_token(conn, project.project_id, username)
