"""Create Project (super token), Export Project Info, Import Project Info.

Create Project with ``odm`` is how PyCap's and REDCapR's test suites build their projects and
how users bring a real REDCap project over: ``data`` still gives the title and purpose, the
XML everything else (see :mod:`localcap.projectxml.importer`). The ``odm`` value may be a form
field (what PyCap and curl ``--data-urlencode`` send) or, for big files, a multipart upload
named ``odm`` (streamed from disk, never read into memory at once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import PlainTextResponse, Response

import localcap.actions.create_project as create
from localcap.api.context import ApiContext
from localcap.api.errors import NO_PERMISSION, ApiError
from localcap.api.methods.common import (
    audit_creation,
    count_response,
    import_rows,
    list_response,
    require_design,
)
from localcap.db import projects as store
from localcap.model.project import Arm, Event, Field
from localcap.projectxml.importer import import_project_xml
from localcap.projectxml.safexml import ProjectXmlError

log = logging.getLogger("localcap")
#: The size of the pieces an ``odm`` value is fed to the importer in.
CHUNK = 1 << 20

#: Export Project Info attributes in REDCap's order; the int-valued ones are JSON numbers.
#: The set of REDCap 15.8.2 and later (``project_pi_email``), as localcap reports 16.x and
#: redcapAPI expects the newer set from such servers (docs/CLIENTS.md).
INFO_FIELDS: tuple[str, ...] = (
    "project_id",
    "project_title",
    "creation_time",
    "production_time",
    "in_production",
    "project_language",
    "purpose",
    "purpose_other",
    "project_notes",
    "custom_record_label",
    "secondary_unique_field",
    "is_longitudinal",
    "has_repeating_instruments_or_events",
    "surveys_enabled",
    "scheduling_enabled",
    "record_autonumbering_enabled",
    "randomization_enabled",
    "ddp_enabled",
    "project_irb_number",
    "project_grant_number",
    "project_pi_firstname",
    "project_pi_lastname",
    "project_pi_email",
    "display_today_now_button",
    "missing_data_codes",
    "external_modules",
    "bypass_branching_erase_field_prompt",
)
INT_FIELDS = frozenset(
    {
        "project_id",
        "in_production",
        "purpose",
        "is_longitudinal",
        "has_repeating_instruments_or_events",
        "surveys_enabled",
        "scheduling_enabled",
        "record_autonumbering_enabled",
        "randomization_enabled",
        "ddp_enabled",
        "display_today_now_button",
        "bypass_branching_erase_field_prompt",
    }
)
#: What Import Project Info may change (REDCap's list).
SETTABLE = (
    "project_title",
    "project_language",
    "purpose",
    "purpose_other",
    "project_notes",
    "custom_record_label",
    "secondary_unique_field",
    "is_longitudinal",
    "surveys_enabled",
    "scheduling_enabled",
    "record_autonumbering_enabled",
    "randomization_enabled",
    "project_irb_number",
    "project_grant_number",
    "project_pi_firstname",
    "project_pi_lastname",
    "project_pi_email",
    "display_today_now_button",
    "bypass_branching_erase_field_prompt",
)
DEFAULT_INFO: dict[str, Any] = {
    "production_time": "",
    "in_production": 0,
    "project_language": "English",
    "purpose": 0,
    "purpose_other": "",
    "project_notes": "",
    "custom_record_label": "",
    "secondary_unique_field": "",
    "surveys_enabled": 0,
    "scheduling_enabled": 0,
    "record_autonumbering_enabled": 0,
    "randomization_enabled": 0,
    "ddp_enabled": 0,
    "project_irb_number": "",
    "project_grant_number": "",
    "project_pi_firstname": "",
    "project_pi_lastname": "",
    "project_pi_email": "",
    "display_today_now_button": 1,
    "missing_data_codes": "",
    "external_modules": "",
    "bypass_branching_erase_field_prompt": 0,
}

#: A new REDCap project starts with one instrument holding the record ID field.
FIRST_FIELD = Field(
    field_name="record_id",
    form_name="my_first_instrument",
    field_type="text",
    field_label="Record ID",
)
#: A new longitudinal REDCap project starts with one arm and one event holding that instrument.
FIRST_SCHEDULE = create.Schedule(
    [Arm(1, "Arm 1")],
    [Event(0, 1, "Event 1", "event_1_arm_1")],
    [("event_1_arm_1", FIRST_FIELD.form_name)],
)


def _as_int(value: Any, name: str) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        raise ApiError(400, f'The value of "{name}" must be an integer') from None


def project_info(ctx: ApiContext) -> dict[str, Any]:
    project = ctx.project
    info: dict[str, Any] = {**DEFAULT_INFO, **project.info}
    info.update(
        project_id=project.project_id,
        project_title=project.project_title,
        is_longitudinal=int(project.is_longitudinal),
        has_repeating_instruments_or_events=int(project.has_repeating),
        surveys_enabled=int(any(f.survey_enabled for f in project.forms)),
    )
    return {name: info.get(name, "") for name in INFO_FIELDS}


def export_project_info(ctx: ApiContext) -> Response:
    if ctx.is_super:
        raise ApiError(403, NO_PERMISSION)
    ctx.require_export()
    info = project_info(ctx)
    if ctx.format == "json":
        return Response(
            orjson.dumps(info), headers={"content-type": "application/json; charset=utf-8"}
        )
    return list_response(ctx, [{k: str(v) for k, v in info.items()}], INFO_FIELDS)


def create_project(ctx: ApiContext) -> Response:
    """Super token only: create a project and answer with the creator's new project token."""
    if not ctx.is_super:
        raise ApiError(403, NO_PERMISSION)
    rows = import_rows(ctx)
    if len(rows) != 1:
        raise ApiError(400, "You must provide exactly one project's attributes in the data")
    attrs = rows[0]
    title = attrs.get("project_title", "").strip()
    if not title:
        raise ApiError(400, 'The parameter "project_title" is missing or empty')
    purpose = _as_int(attrs.get("purpose", ""), "purpose")
    if purpose not in range(5):
        raise ApiError(400, 'The value of "purpose" must be an integer from 0 to 4')
    longitudinal = _as_int(attrs.get("is_longitudinal", 0), "is_longitudinal") == 1
    info = {**DEFAULT_INFO, "creation_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S")}
    for name in SETTABLE:
        if name in attrs and name not in ("project_title", "is_longitudinal"):
            info[name] = _as_int(attrs[name], name) if name in INT_FIELDS else attrs[name]
    info["purpose"] = purpose
    if "odm" in ctx.request.files or ctx.request.get("odm").strip():
        return _create_project_from_odm(ctx, title, info)
    with ctx.engine.begin() as conn:
        project = create.create_project(
            conn, title, info, [FIRST_FIELD], FIRST_SCHEDULE if longitudinal else None
        )
        token = create.make_owner(conn, project, ctx.username)
    audit_creation(ctx, project.project_id, "Create project")
    return PlainTextResponse(token)


def _odm_chunks(ctx: ApiContext) -> Iterator[bytes]:
    upload = ctx.request.files.get("odm")
    if upload is not None:
        upload.file.seek(0)
        while chunk := upload.file.read(CHUNK):
            yield chunk
        return
    data = ctx.request.get("odm").encode("utf-8")
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _create_project_from_odm(ctx: ApiContext, title: str, info: dict[str, Any]) -> Response:
    """Create Project's ``odm`` branch: one transaction; any problem is a 400 and nothing is
    created (the importer also deletes file bytes it stored before failing)."""
    try:
        with ctx.engine.begin() as conn:
            result = import_project_xml(
                conn,
                ctx.state.file_store,
                _odm_chunks(ctx),
                username=ctx.username,
                title=title,
                info=info,
            )
    except ProjectXmlError as exc:
        raise ApiError(400, f"The project XML (odm) cannot be imported: {exc}") from None
    for warning in result.warnings:
        log.warning("project %s created from XML: %s", result.project_id, warning)
    audit_creation(ctx, result.project_id, "Create project from a REDCap project XML")
    return PlainTextResponse(result.token)


def import_project_info(ctx: ApiContext) -> Response:
    require_design(ctx)
    rows = import_rows(ctx)
    if len(rows) != 1:
        raise ApiError(400, "You must provide exactly one set of project attributes")
    attrs = rows[0]
    with ctx.write_transaction() as conn:
        # Merged into the settings as of the lock, so a concurrent change of other settings
        # is kept and the arms checked below are the current ones.
        project = ctx.project
        info = dict(project.info)
        title = project.project_title
        longitudinal = project.longitudinal_enabled
        changed = 0
        for name, value in attrs.items():
            if name not in SETTABLE:
                continue
            changed += 1
            if name == "project_title":
                if not value.strip():
                    raise ApiError(400, 'The parameter "project_title" cannot be empty')
                title = value
            elif name == "is_longitudinal":
                longitudinal = _as_int(value, name) == 1
            else:
                info[name] = _as_int(value, name) if name in INT_FIELDS else value
        store.update_project(conn, project.project_id, title, longitudinal, info)
        if project.longitudinal_enabled and not longitudinal:
            # Turning the setting off drops the arms left without events: redcapAPI's suite
            # deletes some arms' events, turns the setting off, and later finds only the arms
            # it imports anew (docs/CLIENTS.md).
            with_events = {e.arm_num for e in project.events}
            empty = [a.arm_num for a in project.arms if a.arm_num not in with_events]
            if empty:
                store.delete_arms(conn, project.project_id, empty)
    return count_response(ctx, changed)
