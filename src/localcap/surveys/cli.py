"""``localcap survey enable|disable``: turn instruments into surveys without a project XML.

REDCap's Online Designer does this with a button and a settings page; here each setting is an
option. ``enable`` keeps the settings given earlier (or imported from a project XML) and changes
only those named, so it can be run again to adjust one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import Connection

from localcap.cli_options import data_dir_option, open_engine
from localcap.db import projects as project_store
from localcap.db import surveys as survey_store
from localcap.db.audit import log_command
from localcap.db.transactions import write_transaction
from localcap.model.audit import assignments
from localcap.model.project import Project
from localcap.model.surveys import DEFAULT_SETTINGS


@click.group()
def survey() -> None:
    """Enable or disable an instrument as a survey (REDCap's Online Designer setting)."""


def _project(conn, project_id: int, instrument: str) -> Project:  # noqa: ANN001
    project = project_store.load_project(conn, project_id)
    if project is None:
        raise click.ClickException(f"There is no project {project_id}")
    if instrument not in project.form_by_name:
        names = ", ".join(project.form_by_name) or "none"
        raise click.ClickException(
            f"The project has no instrument '{instrument}' (its instruments: {names})"
        )
    return project


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(int(value))


@survey.command("enable")
@data_dir_option
@click.option("--project", "project_id", required=True, type=int, help="The project's id.")
@click.option(
    "--instrument", required=True, help="The instrument's unique name (as in the metadata)."
)
@click.option(
    "--title",
    default=None,
    help="Title shown on top of the survey (default: the instrument's label).",
)
@click.option(
    "--instructions",
    default=None,
    help="Text shown above the questions; HTML allowed (it is the project designer's, "
    "not the participant's). Default: REDCap's 'Please complete the survey below.'",
)
@click.option(
    "--acknowledgement",
    default=None,
    help="Text shown once the survey is completed; HTML allowed. Default: REDCap's "
    "'Thank you for taking the survey.'",
)
@click.option(
    "--save-and-return/--no-save-and-return",
    default=None,
    help="Let participants save a partial response and return to it later with a return "
    "code (API: surveyReturnCode answers only when this is on). Default: off.",
)
@click.option(
    "--edit-completed/--no-edit-completed",
    default=None,
    help="With save-and-return: let participants change a response they already completed. "
    "Default: off.",
)
@click.option(
    "--hide-title/--show-title",
    default=None,
    help="Hide the survey title on the survey page. Default: shown.",
)
@click.option(
    "--queue/--no-queue",
    default=None,
    help="List this survey in the survey queue (for every event it is designated for), "
    "which enables the queue (API: surveyQueueLink). Default: left as it is.",
)
@click.option(
    "--expiration",
    default=None,
    help="When the survey stops taking responses, server local time 'YYYY-MM-DD HH:MM' "
    "(REDCap's survey_expiration); '' removes it. Default: left as it is.",
)
@click.option(
    "--response-limit",
    default=None,
    type=click.IntRange(min=0),
    help="The most responses the survey takes (REDCap's response_limit; 0 removes it).",
)
@click.option(
    "--limit-partials/--limit-completed-only",
    default=None,
    help="Whether partial responses count toward --response-limit. Default: they do.",
)
def survey_enable(
    data_dir: Path,
    database_url: str | None,
    project_id: int,
    instrument: str,
    title: str | None,
    instructions: str | None,
    acknowledgement: str | None,
    save_and_return: bool | None,
    edit_completed: bool | None,
    hide_title: bool | None,
    queue: bool | None,
    expiration: str | None,
    response_limit: int | None,
    limit_partials: bool | None,
) -> None:
    """Enable an instrument as a survey, or change its settings.

    Survey links and codes (API: surveyLink, surveyAccessCode, participantList) then work for
    it, and the server shows it at /surveys/.
    """
    engine = open_engine(data_dir, database_url)
    with write_transaction(engine, project_id) as conn:
        project = _project(conn, project_id, instrument)
        current = survey_store.load_surveys(conn, project_id).get(instrument)
        stored = dict(current.settings) if current else {}
        if not stored:
            stored = dict(DEFAULT_SETTINGS)
            stored["title"] = project.form_by_name[instrument].form_label
        changes = {
            "title": title,
            "instructions": instructions,
            "acknowledgement": acknowledgement,
            "save_and_return": _flag(save_and_return),
            "edit_completed_response": _flag(edit_completed),
            "hide_title": _flag(hide_title),
            "survey_expiration": _expiration(expiration),
            "response_limit": None if response_limit is None else str(response_limit or ""),
            "response_limit_include_partials": _flag(limit_partials),
        }
        stored.update({k: v for k, v in changes.items() if v is not None})
        stored["survey_enabled"] = "1"
        survey_store.save_survey(conn, project_id, instrument, stored)
        if queue is not None:
            _set_queue(conn, project, instrument, queue)
        shown = {k: v for k, v in changes.items() if v is not None}
        if queue is not None:
            shown["queue"] = "1" if queue else "0"
        settings = assignments(list(shown.items()))
        log_command(
            conn,
            project_id,
            "survey enable",
            f"Enable survey {instrument}" + (f": {settings}" if settings else ""),
        )
    click.echo(f"'{instrument}' of project {project_id} is a survey")


def _set_queue(conn: Connection, project: Project, instrument: str, listed: bool) -> None:
    """List the survey in the survey queue for every event it is designated for (the one
    classic pseudo-event 0 in a classic project), or take it off the queue."""
    pid = project.project_id
    if not listed:
        survey_store.delete_queue_entries(conn, pid, instrument)
        return
    events = [
        e.event_id for e in project.events if instrument in project.forms_in_event(e.event_id)
    ]
    for event_id in events if project.is_longitudinal else [0]:
        survey_store.save_queue_entry(
            conn, pid, event_id, instrument, {"active": "1", "auto_start": "0"}
        )


def _expiration(text: str | None) -> str | None:
    """The --expiration option as REDCap stores it (``YYYY-MM-DD HH:MM:SS``)."""
    if text is None or not text.strip():
        return text
    try:
        return datetime.fromisoformat(text.strip()).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD HH:MM", param_hint="--expiration") from None


@survey.command("disable")
@data_dir_option
@click.option("--project", "project_id", required=True, type=int, help="The project's id.")
@click.option("--instrument", required=True, help="The instrument's unique name.")
def survey_disable(
    data_dir: Path, database_url: str | None, project_id: int, instrument: str
) -> None:
    """Make a survey a plain instrument again.

    Its links and codes stop working and it leaves the survey queue; its settings are kept,
    so `enable` brings them back. Collected responses stay in the records.
    """
    engine = open_engine(data_dir, database_url)
    with write_transaction(engine, project_id) as conn:
        _project(conn, project_id, instrument)
        survey_store.disable_survey(conn, project_id, instrument)
        survey_store.delete_queue_entries(conn, project_id, instrument)
        log_command(conn, project_id, "survey disable", f"Disable survey {instrument}")
    click.echo(f"'{instrument}' of project {project_id} is no longer a survey")
