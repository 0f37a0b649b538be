"""Reading and writing a project's design (everything but record data)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from localcap.db import schema as t
from localcap.model.project import (
    METADATA_COLUMNS,
    Arm,
    Dag,
    Event,
    Field,
    Form,
    Project,
)
from localcap.model.rights import FULL, Rights


def load_project(conn: Connection, project_id: int) -> Project | None:
    """Load one project's whole design (small: a few queries, no record data)."""
    row = conn.execute(select(t.projects).where(t.projects.c.project_id == project_id)).first()
    if row is None:
        return None
    forms = _load_forms(conn, project_id)
    events = _load_events(conn, project_id)
    event_forms, repeating = _load_designations(conn, project_id, forms)
    return Project(
        project_id=project_id,
        project_title=row.project_title,
        is_longitudinal=bool(row.is_longitudinal) and bool(events),
        info=orjson.loads(row.info),
        fields=_load_fields(conn, project_id),
        forms=forms,
        arms=[
            Arm(r.arm_num, r.name)
            for r in conn.execute(
                select(t.arms).where(t.arms.c.project_id == project_id).order_by(t.arms.c.arm_num)
            )
        ],
        events=events,
        event_forms=event_forms,
        repeating=repeating,
        dags=[
            Dag(r.group_id, r.group_name, r.unique_name)
            for r in conn.execute(
                select(t.dags).where(t.dags.c.project_id == project_id).order_by(t.dags.c.group_id)
            )
        ],
        longitudinal_enabled=bool(row.is_longitudinal),
        design_version=row.design_version,
    )


def _load_fields(conn: Connection, project_id: int) -> list[Field]:
    return [
        Field(**{c: r._mapping[c] for c in METADATA_COLUMNS})
        for r in conn.execute(
            select(t.fields)
            .where(t.fields.c.project_id == project_id)
            .order_by(t.fields.c.field_order)
        )
    ]


def _load_forms(conn: Connection, project_id: int) -> list[Form]:
    return [
        Form(r.form_name, r.form_label, bool(r.survey_enabled))
        for r in conn.execute(
            select(t.forms).where(t.forms.c.project_id == project_id).order_by(t.forms.c.form_order)
        )
    ]


def _load_events(conn: Connection, project_id: int) -> list[Event]:
    return [
        Event(
            r.event_id,
            r.arm_num,
            r.event_name,
            r.unique_event_name,
            r.day_offset,
            r.offset_min,
            r.offset_max,
            r.custom_event_label,
        )
        for r in conn.execute(
            select(t.events)
            .where(t.events.c.project_id == project_id)
            .order_by(t.events.c.arm_num, t.events.c.event_order, t.events.c.event_id)
        )
    ]


def _load_designations(
    conn: Connection, project_id: int, forms: list[Form]
) -> tuple[dict[int, list[str]], dict[tuple[int, str], str]]:
    """The instruments designated for each event (in form order), and the repeating setup.
    Designations and repeating settings of instruments no longer in the dictionary are kept
    stored but not in force (replace_metadata)."""
    form_order = {f.form_name: i for i, f in enumerate(forms)}
    event_forms: dict[int, list[str]] = {}
    for r in conn.execute(select(t.event_forms).where(t.event_forms.c.project_id == project_id)):
        if r.form_name in form_order:
            event_forms.setdefault(r.event_id, []).append(r.form_name)
    for names in event_forms.values():
        names.sort(key=lambda n: form_order[n])
    repeating = {
        (r.event_id, r.form_name): r.custom_form_label
        for r in conn.execute(select(t.repeating).where(t.repeating.c.project_id == project_id))
        if r.form_name == "" or r.form_name in form_order
    }
    return event_forms, repeating


class DesignCache:
    """Projects' designs as last loaded by this process, each valid while the database's
    ``design_version`` of the project is the one it was loaded at: every change of a design
    bumps the version in the same transaction (:func:`bump_design`), so one small query tells
    whether the copy is current, in any process or machine sharing the database.

    Use it only with a connection that has written nothing yet (a read snapshot, or a write
    transaction right after its lock): a design read after an uncommitted change could be
    rolled back, and its version number later given to a different design. Loaded
    :class:`Project` objects are shared between requests and must not be changed.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._projects: OrderedDict[int, Project] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: Connection, project_id: int) -> Project | None:
        """The project's current design (None: no such project)."""
        version = design_version(conn, project_id)
        if version is None:
            return None
        with self._lock:
            cached = self._projects.get(project_id)
            if cached is not None and cached.design_version == version:
                self._projects.move_to_end(project_id)
                return cached
        project = load_project(conn, project_id)
        if project is not None:
            with self._lock:
                self._projects[project_id] = project
                self._projects.move_to_end(project_id)
                while len(self._projects) > self.size:
                    self._projects.popitem(last=False)
        return project


def design_version(conn: Connection, project_id: int) -> int | None:
    """The project's design version (None: no such project)."""
    return conn.execute(
        select(t.projects.c.design_version).where(t.projects.c.project_id == project_id)
    ).scalar()


def bump_design(conn: Connection, project_id: int) -> None:
    conn.execute(
        update(t.projects)
        .where(t.projects.c.project_id == project_id)
        .values(design_version=t.projects.c.design_version + 1)
    )


def create_project(
    conn: Connection, title: str, is_longitudinal: bool, info: dict[str, Any]
) -> int:
    result = conn.execute(
        insert(t.projects).values(
            project_title=title,
            is_longitudinal=is_longitudinal,
            info=orjson.dumps(info).decode(),
            design_version=0,
        )
    )
    return int(result.inserted_primary_key[0])


def update_project(
    conn: Connection, project_id: int, title: str, is_longitudinal: bool, info: dict[str, Any]
) -> None:
    conn.execute(
        update(t.projects)
        .where(t.projects.c.project_id == project_id)
        .values(
            project_title=title, is_longitudinal=is_longitudinal, info=orjson.dumps(info).decode()
        )
    )
    bump_design(conn, project_id)


def form_label_from_name(form_name: str) -> str:
    """REDCap labels an instrument created by a dictionary import from its name."""
    label = form_name.replace("_", " ").strip()
    return label[:1].upper() + label[1:]


def replace_metadata(conn: Connection, project: Project, new_fields: Sequence[Field]) -> None:
    """Replace the data dictionary; instruments follow the fields' form names in order."""
    pid = project.project_id
    conn.execute(delete(t.fields).where(t.fields.c.project_id == pid))
    if new_fields:
        conn.execute(
            insert(t.fields),
            [
                {"project_id": pid, "field_order": i, **f.as_metadata()}
                for i, f in enumerate(new_fields, start=1)
            ],
        )
    old_forms = {f.form_name: f for f in project.forms}
    form_names = list(dict.fromkeys(f.form_name for f in new_fields))
    conn.execute(delete(t.forms).where(t.forms.c.project_id == pid))
    if form_names:
        conn.execute(
            insert(t.forms),
            [
                {
                    "project_id": pid,
                    "form_name": name,
                    "form_label": old_forms[name].form_label
                    if name in old_forms
                    else form_label_from_name(name),
                    "form_order": i,
                    "survey_enabled": old_forms[name].survey_enabled
                    if name in old_forms
                    else False,
                }
                for i, name in enumerate(form_names, start=1)
            ],
        )
    gone = set(old_forms) - set(form_names)
    update_form_rights(conn, pid, [n for n in form_names if n not in old_forms], gone)
    # A removed instrument's event designations and repeating setting stay stored (and its
    # records' values too): hidden while it is gone (load_project), back when a dictionary
    # brings it back, as on REDCap (redcapAPI's suite cuts the dictionary to two instruments,
    # restores it, and reads the other instruments' data in their events again).
    bump_design(conn, pid)


def update_form_rights(
    conn: Connection, project_id: int, added: Sequence[str], removed: Iterable[str]
) -> None:
    """Instrument rights follow the dictionary: every user and role gets View & Edit and
    Full Data Set on a new instrument, and loses its rights on a removed one.

    That is what REDCap does for instruments added while a project is in development (the
    only time the API lets the dictionary change); in production they would start as No
    Access.
    """
    removed = set(removed)
    if not added and not removed:
        return
    for table, key in ((t.project_users, t.project_users.c.username), (t.user_roles, None)):
        rows = conn.execute(select(table).where(table.c.project_id == project_id)).all()
        for row in rows:
            rights = Rights.from_json(orjson.loads(row.rights))
            for name in removed:
                rights.forms.pop(name, None)
                rights.forms_export.pop(name, None)
            for name in added:
                rights.forms[name] = 1
                rights.forms_export[name] = FULL
            where = key == row.username if key is not None else table.c.role_id == row.role_id
            conn.execute(
                update(table)
                .where(table.c.project_id == project_id, where)
                .values(rights=orjson.dumps(rights.to_json()).decode())
            )


def replace_arms(conn: Connection, project_id: int, arms: Iterable[Arm], override: bool) -> None:
    if override:
        _delete_events(conn, project_id, None)
        conn.execute(delete(t.arms).where(t.arms.c.project_id == project_id))
    for arm in arms:
        updated = conn.execute(
            update(t.arms)
            .where(t.arms.c.project_id == project_id, t.arms.c.arm_num == arm.arm_num)
            .values(name=arm.name)
        )
        if updated.rowcount == 0:
            conn.execute(
                insert(t.arms).values(project_id=project_id, arm_num=arm.arm_num, name=arm.name)
            )
    bump_design(conn, project_id)


def delete_arms(conn: Connection, project_id: int, arm_nums: Sequence[int]) -> None:
    event_ids = [
        r.event_id
        for r in conn.execute(
            select(t.events.c.event_id).where(
                t.events.c.project_id == project_id, t.events.c.arm_num.in_(arm_nums)
            )
        )
    ]
    _delete_events(conn, project_id, event_ids)
    conn.execute(
        delete(t.arms).where(t.arms.c.project_id == project_id, t.arms.c.arm_num.in_(arm_nums))
    )
    bump_design(conn, project_id)


def _delete_events(conn: Connection, project_id: int, event_ids: Sequence[int] | None) -> None:
    """Delete events (all when None) with their mappings, repeating setup and data."""
    tables_and_columns = (
        (t.event_forms, t.event_forms.c.event_id),
        (t.repeating, t.repeating.c.event_id),
        (t.record_data, t.record_data.c.event_id),
        (t.events, t.events.c.event_id),
    )
    for table, column in tables_and_columns:
        stmt = delete(table).where(table.c.project_id == project_id)
        if event_ids is not None:
            stmt = stmt.where(column.in_(event_ids))
        conn.execute(stmt)


def delete_events(conn: Connection, project_id: int, event_ids: Sequence[int]) -> None:
    _delete_events(conn, project_id, event_ids)
    bump_design(conn, project_id)


def save_events(
    conn: Connection, project_id: int, new_events: Sequence[Event], override: bool
) -> None:
    """Insert or update events by unique name; ``override`` replaces all events first."""
    if override:
        _delete_events(conn, project_id, None)
    existing = {
        r.unique_event_name: r
        for r in conn.execute(select(t.events).where(t.events.c.project_id == project_id))
    }
    next_order = max((r.event_order for r in existing.values()), default=0) + 1
    for ev in new_events:
        values = {
            "arm_num": ev.arm_num,
            "event_name": ev.event_name,
            "day_offset": ev.day_offset,
            "offset_min": ev.offset_min,
            "offset_max": ev.offset_max,
            "custom_event_label": ev.custom_event_label,
        }
        if ev.unique_event_name in existing:
            conn.execute(
                update(t.events)
                .where(t.events.c.event_id == existing[ev.unique_event_name].event_id)
                .values(**values)
            )
        else:
            conn.execute(
                insert(t.events).values(
                    project_id=project_id,
                    unique_event_name=ev.unique_event_name,
                    event_order=next_order,
                    **values,
                )
            )
            next_order += 1
    bump_design(conn, project_id)


def replace_event_forms(
    conn: Connection, project_id: int, mapping: Iterable[tuple[int, str]], arm_nums: set[int]
) -> None:
    """Replace the instrument-event mapping of the given arms."""
    event_ids = [
        r.event_id
        for r in conn.execute(
            select(t.events.c.event_id).where(
                t.events.c.project_id == project_id, t.events.c.arm_num.in_(arm_nums)
            )
        )
    ]
    conn.execute(
        delete(t.event_forms).where(
            t.event_forms.c.project_id == project_id, t.event_forms.c.event_id.in_(event_ids)
        )
    )
    rows = [
        {"project_id": project_id, "event_id": e, "form_name": f} for e, f in dict.fromkeys(mapping)
    ]
    if rows:
        conn.execute(insert(t.event_forms), rows)
    bump_design(conn, project_id)


def replace_repeating(
    conn: Connection, project_id: int, entries: Iterable[tuple[int, str, str]]
) -> None:
    conn.execute(delete(t.repeating).where(t.repeating.c.project_id == project_id))
    rows = [
        {"project_id": project_id, "event_id": e, "form_name": f, "custom_form_label": label}
        for e, f, label in entries
    ]
    if rows:
        conn.execute(insert(t.repeating), rows)
    bump_design(conn, project_id)


def save_dag(
    conn: Connection,
    project_id: int,
    group_name: str,
    unique_name: str,
    new_unique_name: str | None = None,
) -> int:
    """Create the DAG ``unique_name``, or rename it (and give it ``new_unique_name``); the
    design version changes with it."""
    bump_design(conn, project_id)
    existing = conn.execute(
        select(t.dags.c.group_id).where(
            t.dags.c.project_id == project_id, t.dags.c.unique_name == unique_name
        )
    ).first()
    if existing is not None:
        conn.execute(
            update(t.dags)
            .where(t.dags.c.group_id == existing.group_id)
            .values(group_name=group_name, unique_name=new_unique_name or unique_name)
        )
        return int(existing.group_id)
    result = conn.execute(
        insert(t.dags).values(project_id=project_id, group_name=group_name, unique_name=unique_name)
    )
    return int(result.inserted_primary_key[0])


def delete_dags(conn: Connection, project_id: int, group_ids: Sequence[int]) -> None:
    """Delete DAGs; their records and users stay, unassigned (as REDCap does); the DAG
    Switcher forgets them."""
    conn.execute(
        delete(t.dag_switch).where(
            t.dag_switch.c.project_id == project_id, t.dag_switch.c.group_id.in_(group_ids)
        )
    )
    for table in (t.records, t.project_users):
        conn.execute(
            update(table)
            .where(table.c.project_id == project_id, table.c.group_id.in_(group_ids))
            .values(group_id=None)
        )
    conn.execute(delete(t.dags).where(t.dags.c.group_id.in_(group_ids)))
    bump_design(conn, project_id)


# -- users ----------------------------------------------------------------------------------
def ensure_user(conn: Connection, username: str, **profile: Any) -> None:
    """Create the server-wide user if missing, and set the profile values given.

    Users belong to no one project, so two projects' write transactions (each holding only
    its own project's lock) may create the same new user at once on PostgreSQL: the insert
    runs in a savepoint, and the one that loses the race updates the winner's row instead.
    """
    exists = conn.execute(select(t.users.c.username).where(t.users.c.username == username)).first()
    values = {k: v for k, v in profile.items() if v is not None}
    if exists is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(t.users).values(username=username, **values))
            return
        except IntegrityError:
            pass  # created meanwhile by another project's transaction
    if values:
        conn.execute(update(t.users).where(t.users.c.username == username).values(**values))


def save_project_user(
    conn: Connection,
    project_id: int,
    username: str,
    rights: Rights,
    group_id: int | None,
    expiration: str = "",
) -> None:
    values = {
        "rights": orjson.dumps(rights.to_json()).decode(),
        "group_id": group_id,
        "expiration": expiration,
    }
    updated = conn.execute(
        update(t.project_users)
        .where(t.project_users.c.project_id == project_id, t.project_users.c.username == username)
        .values(**values)
    )
    if updated.rowcount == 0:
        conn.execute(
            insert(t.project_users).values(project_id=project_id, username=username, **values)
        )


class Membership(NamedTuple):
    """A user's place in a project: the rights in force, DAG, expiry and role."""

    rights: Rights
    group_id: int | None
    expiration: str
    role_id: int | None

    def expired(self, today: date) -> bool:
        """REDCap suspends a user from the project once the expiration date has passed: the
        user keeps access through that day (REDCap's own help: "at midnight ... the user will
        no longer have access") and the API answers as for a user without API rights. A
        value that is not a date (stored by an older localcap) counts as expired: a
        security boundary fails closed."""
        if not self.expiration:
            return False
        try:
            return date.fromisoformat(self.expiration) < today
        except ValueError:
            return True


def load_project_user(conn: Connection, project_id: int, username: str) -> Membership | None:
    """The user's membership, with the role's rights in place of the user's own when the
    user is in a role (REDCap: a role's rights replace, not add to, the user's)."""
    pu = t.project_users
    row = conn.execute(
        select(pu, t.user_roles.c.rights.label("role_rights"))
        .outerjoin(t.user_roles, t.user_roles.c.role_id == pu.c.role_id)
        .where(pu.c.project_id == project_id, pu.c.username == username)
    ).first()
    if row is None:
        return None
    rights_json = row.role_rights if row.role_id is not None else row.rights
    return Membership(
        Rights.from_json(orjson.loads(rights_json)), row.group_id, row.expiration, row.role_id
    )


def list_project_users(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's users; ``rights`` are the rights in force (the role's for a user in a
    role), ``own_rights`` the user's own (kept for when the user leaves the role)."""
    pu = t.project_users
    rows = conn.execute(
        select(
            pu,
            t.users.c.email,
            t.users.c.firstname,
            t.users.c.lastname,
            t.user_roles.c.rights.label("role_rights"),
            t.user_roles.c.unique_role_name,
        )
        .join(t.users, t.users.c.username == pu.c.username)
        .outerjoin(t.user_roles, t.user_roles.c.role_id == pu.c.role_id)
        .where(pu.c.project_id == project_id)
        .order_by(pu.c.username)
    )
    users = []
    for r in rows:
        own = Rights.from_json(orjson.loads(r.rights))
        in_role = r.role_id is not None
        users.append(
            {
                "username": r.username,
                "email": r.email,
                "firstname": r.firstname,
                "lastname": r.lastname,
                "expiration": r.expiration,
                "group_id": r.group_id,
                "rights": Rights.from_json(orjson.loads(r.role_rights)) if in_role else own,
                "own_rights": own,
                "role_id": r.role_id,
                "unique_role_name": r.unique_role_name or "",
            }
        )
    return users


def set_user_dag(conn: Connection, project_id: int, username: str, group_id: int | None) -> None:
    conn.execute(
        update(t.project_users)
        .where(t.project_users.c.project_id == project_id, t.project_users.c.username == username)
        .values(group_id=group_id)
    )


def delete_project_users(conn: Connection, project_id: int, usernames: Sequence[str]) -> None:
    """Remove users from a project, with their tokens and DAG Switcher grants for it."""
    for table in (t.tokens, t.dag_switch):
        conn.execute(
            delete(table).where(table.c.project_id == project_id, table.c.username.in_(usernames))
        )
    conn.execute(
        delete(t.project_users).where(
            t.project_users.c.project_id == project_id,
            t.project_users.c.username.in_(usernames),
        )
    )
