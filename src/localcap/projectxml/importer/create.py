"""Creating the project from the collected design, inside the caller's transaction.

This runs once, when the design is complete: it stores the project, its dictionary, events,
surveys, repeating setup, DAGs, user roles and reports, and makes the importing user the
project's first user with full rights and an API token, as Create Project does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, update

from localcap.actions.create_project import Schedule, create_project, make_owner
from localcap.db import projects as store
from localcap.db import schema as t
from localcap.db import surveys as survey_store
from localcap.db.roles import new_role_name, save_role
from localcap.model.dags import unique_group_name
from localcap.model.project import CLASSIC_EVENT_ID, Arm, Event, Field, Project
from localcap.projectxml.importer.design import Design
from localcap.projectxml.importer.fields import design_fields
from localcap.projectxml.importer.reports import save_xml_reports
from localcap.projectxml.importer.warninglist import Warnings
from localcap.projectxml.roles import rights_from_attrs
from localcap.projectxml.safexml import ProjectXmlError
from localcap.projectxml.vocabulary import (
    INFO_SETTINGS,
    INT_INFO,
    SETTING_DEFAULTS,
    XML_SETTINGS_KEY,
)

#: The longest unique role name the database holds.
MAX_ROLE_NAME = 50


@dataclass
class Created:
    project: Project
    token: str


@dataclass
class ProjectBuilder:
    """What the project is built from: the design plus the Create Project call's own
    title, project info and user."""

    conn: Connection
    design: Design
    warnings: Warnings
    title_override: str
    base_info: dict[str, Any]
    username: str

    def create(self) -> Created:
        pid = self._create_design()
        project = store.load_project(self.conn, pid)
        assert project is not None
        self._create_surveys(project)
        self._create_repeating(project)
        taken: set[str] = set()
        for group_name in self.design.dags:
            unique = unique_group_name(group_name, taken)
            taken.add(unique)
            store.save_dag(self.conn, pid, group_name, unique)
        project = store.load_project(self.conn, pid)
        assert project is not None
        role_names = self._create_roles(project)
        save_xml_reports(self.conn, project, self.design.reports, self.warnings, role_names)
        return Created(project, make_owner(self.conn, project, self.username))

    def _create_design(self) -> int:
        """The project row, its dictionary, form labels and events; its id."""
        d = self.design
        conn = self.conn
        title = self.title_override or d.title.strip()
        if not title:
            raise ProjectXmlError("The project XML has no StudyName and no title was given")
        if not d.forms:
            raise ProjectXmlError("The project XML has no instruments (no FormDef in Study)")
        fields = design_fields(d, self.warnings)
        if not fields:
            raise ProjectXmlError("The project XML has no fields (no ItemDef with a field type)")
        schedule = self._schedule(fields) if d.events else None
        pid = create_project(conn, title, self._info(), fields, schedule).project_id
        for form_name, label, _groups in d.forms:
            survey = d.surveys.get(form_name, {})
            enabled = bool(survey) and survey.get("survey_enabled", "1") == "1"
            conn.execute(
                update(t.forms)
                .where(t.forms.c.project_id == pid, t.forms.c.form_name == form_name)
                .values(form_label=label, survey_enabled=enabled)
            )
        return pid

    def _info(self) -> dict[str, Any]:
        info = dict(self.base_info)
        kept: dict[str, str] = {}
        for name, value in self.design.settings.items():
            key = INFO_SETTINGS.get(name)
            if key is not None:
                if key == "purpose" and "purpose" in info and self.title_override:
                    continue  # the Create Project call's own purpose wins
                if key in INT_INFO:
                    try:
                        info[key] = int(value.strip() or 0)
                    except ValueError:
                        info[key] = 0
                else:
                    info[key] = value
                continue
            kept[name] = value
            if value.strip() not in ("", "0", SETTING_DEFAULTS.get(name, "0")):
                self.warnings.add(
                    f"The project setting {name}={value!r} is kept but has no effect in localcap"
                )
        info[XML_SETTINGS_KEY] = kept
        return info

    def _create_surveys(self, project: Project) -> None:
        """Survey settings and the survey queue, kept whole (exported back as they came)."""
        d = self.design
        for form_name, attrs in d.surveys.items():
            if form_name not in project.form_by_name:
                self.warnings.add(
                    f"Survey settings for an unknown instrument '{form_name}' were ignored"
                )
                continue
            settings = {k: v for k, v in attrs.items() if k != "form_name"}
            if settings.get("survey_enabled", "1") == "1":
                survey_store.save_survey(self.conn, project.project_id, form_name, settings)
        for attrs in d.survey_queue:
            form_name = attrs.get("survey_id", "")
            event_name = attrs.get("event_id", "")
            event_id = CLASSIC_EVENT_ID
            if project.is_longitudinal:
                event = project.event_by_name.get(event_name)
                event_id = event.event_id if event is not None else -1
            if form_name not in d.surveys or event_id < 0:
                self.warnings.add(
                    f"A survey queue entry for '{form_name}' ({event_name}) names no survey "
                    "of the project and was ignored"
                )
                continue
            settings = {k: v for k, v in attrs.items() if k not in ("survey_id", "event_id")}
            survey_store.save_queue_entry(
                self.conn, project.project_id, event_id, form_name, settings
            )

    def _events(self, order: list[str]) -> tuple[dict[int, str], list[Event]]:
        """The arms (number -> name) and events of the XML, in the Protocol's order."""
        arms: dict[int, str] = {}
        events: list[Event] = []
        for oid in order:
            a = self.design.events[oid]
            try:
                arm_num = int(a.get("redcap:ArmNum", "1") or 1)
            except ValueError:
                raise ProjectXmlError(f"Event {oid}: redcap:ArmNum is not a number") from None
            arms.setdefault(arm_num, a.get("redcap:ArmName", "") or f"Arm {arm_num}")
            unique = a.get("redcap:UniqueEventName") or oid.removeprefix("Event.")
            events.append(
                Event(
                    0,
                    arm_num,
                    a.get("redcap:EventName") or a.get("Name", unique),
                    unique,
                    a.get("redcap:DayOffset", "0") or "0",
                    a.get("redcap:OffsetMin", "0") or "0",
                    a.get("redcap:OffsetMax", "0") or "0",
                    a.get("redcap:CustomEventLabel", ""),
                )
            )
        return arms, events

    def _schedule(self, fields: list[Field]) -> Schedule:
        """The arms, events and event instruments of the XML's Protocol."""
        d = self.design
        order = [oid for oid in d.event_order if oid in d.events]
        order += [oid for oid in d.events if oid not in order]
        arms, events = self._events(order)
        arm_list = [Arm(num, name) for num, name in sorted(arms.items())]
        events.sort(key=lambda e: e.arm_num)  # stable: the Protocol order within an arm
        known_forms = {f.form_name for f in fields}
        mapping = []
        for oid in order:
            unique = d.events[oid].get("redcap:UniqueEventName") or oid.removeprefix("Event.")
            for form in d.event_forms.get(oid, []):
                if form not in known_forms:
                    raise ProjectXmlError(f"Event {unique} refers to an unknown instrument {form}")
                mapping.append((unique, form))
        return Schedule(arm_list, events, mapping)

    def _create_repeating(self, project: Project) -> None:
        d = self.design
        entries: dict[tuple[int, str], str] = {}
        flagged = [(name, "", "") for name in sorted(d.repeating_event_flags)]
        for event_name, form, label in d.repeating + flagged:
            if project.is_longitudinal:
                event = project.event_by_name.get(event_name)
                if event is None:
                    raise ProjectXmlError(
                        f"The repeating setup refers to an unknown event {event_name}"
                    )
                event_id = event.event_id
            else:
                event_id = CLASSIC_EVENT_ID
            if form and form not in project.form_by_name:
                raise ProjectXmlError(f"The repeating setup refers to an unknown instrument {form}")
            entries.setdefault((event_id, form), label)
        if entries:
            store.replace_repeating(
                self.conn, project.project_id, [(e, f, lbl) for (e, f), lbl in entries.items()]
            )

    def _create_roles(self, project: Project) -> set[str]:
        """User roles, with the XML's unique role names (REDCap keeps them on import, so a
        report limited to a role still names it); a missing or repeated one gets a new name.
        Returns the unique role names."""
        taken: set[str] = set()
        for attrs in self.design.roles:
            label = attrs.get("role_name", "").strip()
            if not label:
                self.warnings.add("A user role without a role_name was not imported")
                continue
            unique = attrs.get("unique_role_name", "").strip()
            if not unique or unique in taken or len(unique) > MAX_ROLE_NAME:
                unique = new_role_name(taken)
            taken.add(unique)
            rights = rights_from_attrs(attrs, project, self.warnings.add)
            save_role(self.conn, project.project_id, unique, label, rights)
        return taken
