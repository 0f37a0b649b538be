"""Arms, events, the instrument-event mapping and repeating instruments/events."""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import (
    count_response,
    import_rows,
    list_response,
    require_design,
    require_longitudinal,
)
from localcap.db import projects as store
from localcap.model.events import plan_arms, plan_events, plan_mapping, plan_repeating
from localcap.model.names import invalid_values, required_names
from localcap.model.numbers import MAX_ID
from localcap.model.project import Project


def _arm_filter(ctx: ApiContext) -> set[int] | None:
    arms = ctx.request.list("arms")
    if not arms:
        return None
    try:
        wanted = {int(a) for a in arms}
    except ValueError:
        raise invalid_values("arms", arms) from None
    if any(not 0 < a <= MAX_ID for a in wanted):
        raise invalid_values("arms", arms)
    return wanted


# -- arms -----------------------------------------------------------------------------------
def export_arms(ctx: ApiContext) -> Response:
    ctx.require_export()
    require_longitudinal(ctx, "arms")
    wanted = _arm_filter(ctx)
    rows = [
        {"arm_num": a.arm_num, "name": a.name}
        for a in ctx.project.arms
        if wanted is None or a.arm_num in wanted
    ]
    return list_response(ctx, rows, ("arm_num", "name"))


def import_arms(ctx: ApiContext) -> Response:
    """Arms and events may be imported into a classic project too (redcapAPI's suite records
    it): they take effect, and the project turns longitudinal, once its longitudinal setting
    is on and it has events."""
    require_design(ctx)
    arms = plan_arms(import_rows(ctx))
    override = ctx.request.flag("override")
    with ctx.write_transaction() as conn:
        store.replace_arms(conn, ctx.project.project_id, arms, override)
    return count_response(ctx, len(arms))


def delete_arms(ctx: ApiContext) -> Response:
    require_design(ctx)
    wanted = _arm_filter(ctx)
    if not wanted:
        raise ApiError(400, "The parameter 'arms' is missing")
    with ctx.write_transaction() as conn:
        unknown = sorted(wanted - set(ctx.project.arm_by_num))
        if unknown:
            raise invalid_values("arms", [str(a) for a in unknown])
        store.delete_arms(conn, ctx.project.project_id, sorted(wanted))
    return count_response(ctx, len(wanted))


# -- events ---------------------------------------------------------------------------------
EVENT_COLUMNS = ("event_name", "arm_num", "unique_event_name", "custom_event_label", "event_id")


def export_events(ctx: ApiContext) -> Response:
    ctx.require_export()
    require_longitudinal(ctx, "events")
    wanted = _arm_filter(ctx)
    rows = [
        {
            "event_name": e.event_name,
            "arm_num": e.arm_num,
            "unique_event_name": e.unique_event_name,
            "custom_event_label": e.custom_event_label,
            "event_id": e.event_id,
        }
        for e in ctx.project.events
        if wanted is None or e.arm_num in wanted
    ]
    return list_response(ctx, rows, EVENT_COLUMNS)


def import_events(ctx: ApiContext) -> Response:
    """Events are checked and named inside the project's write transaction, against the
    design as of its lock: whether the project had events decides the first event's
    designations below, and two imports at once never pick the same unique name."""
    require_design(ctx)
    override = ctx.request.flag("override")
    rows = import_rows(ctx)
    with ctx.write_transaction() as conn:
        project = ctx.project
        events = plan_events(project, rows, override)
        store.save_events(conn, project.project_id, events, override)
        if events and (override or not project.events):
            _designate_all_to_first_event(conn, project.project_id)
    return count_response(ctx, len(events))


def _designate_all_to_first_event(conn: Connection, project_id: int) -> None:
    """The first event of a project that had none holds every instrument, as a new
    longitudinal project's first event does. redcapAPI's suite deletes every event, imports
    new ones, and then imports records without an event name, which REDCap puts in the
    first event (PyCap issue 142 records that rule) and accepts for every instrument."""
    fresh = store.load_project(conn, project_id)
    assert fresh is not None
    first = fresh.events[0]
    pairs = [(first.event_id, f.form_name) for f in fresh.forms]
    store.replace_event_forms(conn, project_id, pairs, {first.arm_num})


def delete_events(ctx: ApiContext) -> Response:
    """Deleting the last events makes the project classic again. Deleting no events from a
    project that has none answers 0: redcapAPI's purge sends exactly that to a classic
    project and real REDCap accepts it."""
    require_design(ctx)
    with ctx.write_transaction() as conn:
        if not ctx.project.events and not ctx.request.list("events"):
            return count_response(ctx, 0)
        names = required_names("events", ctx.request.list("events"), ctx.project.event_by_name)
        ids = [ctx.project.event_by_name[n].event_id for n in names]
        store.delete_events(conn, ctx.project.project_id, ids)
    return count_response(ctx, len(ids))


# -- instrument-event mapping ---------------------------------------------------------------
def export_mapping(ctx: ApiContext) -> Response:
    ctx.require_export()
    require_longitudinal(ctx, "form/event mappings")
    wanted = _arm_filter(ctx)
    project = ctx.project
    rows = [
        {"arm_num": e.arm_num, "unique_event_name": e.unique_event_name, "form": form}
        for e in project.events
        if wanted is None or e.arm_num in wanted
        for form in project.event_forms.get(e.event_id, [])
    ]
    return list_response(ctx, rows, ("arm_num", "unique_event_name", "form"))


def import_mapping(ctx: ApiContext) -> Response:
    """Checked inside the project's write transaction, against the events and arms as of its
    lock: the mapping replaced is every arm's as of then, not as of the request."""
    require_design(ctx)
    with ctx.write_transaction() as conn:
        require_longitudinal(ctx, "form/event mappings")
        project = ctx.project
        pairs = plan_mapping(project, import_rows(ctx))
        # Real REDCap replaces the whole mapping, every arm's (PyCap's integration tests import
        # one row and then export exactly one).
        store.replace_event_forms(conn, project.project_id, pairs, set(project.arm_by_num))
    return count_response(ctx, len(pairs))


# -- repeating instruments and events -------------------------------------------------------
def _event_key(project: Project, event_id: int) -> str:
    return project.event_by_id[event_id].unique_event_name if project.is_longitudinal else ""


def export_repeating(ctx: ApiContext) -> Response:
    ctx.require_export()
    project = ctx.project
    order = {e.event_id: i for i, e in enumerate(project.events)}
    form_order = {f.form_name: i for i, f in enumerate(project.forms)}
    entries = sorted(
        project.repeating.items(),
        key=lambda item: (order.get(item[0][0], 0), form_order.get(item[0][1], -1)),
    )
    if project.is_longitudinal:
        rows = [
            {"event_name": _event_key(project, e), "form_name": f, "custom_form_label": label}
            for (e, f), label in entries
        ]
        header: tuple[str, ...] = ("event_name", "form_name", "custom_form_label")
    else:
        rows = [{"form_name": f, "custom_form_label": label} for (_, f), label in entries]
        header = ("form_name", "custom_form_label")
    return list_response(ctx, rows, header)


REPEATING_COLUMNS = frozenset({"event_name", "form_name", "custom_form_label"})


def import_repeating(ctx: ApiContext) -> Response:
    """Replaces the whole repeating setup. An empty list (redcapAPI sends a CSV header alone)
    clears it and answers 0, as REDCap does. Checked against the design as of the lock."""
    require_design(ctx)
    rows = import_rows(ctx, empty_columns=REPEATING_COLUMNS)
    with ctx.write_transaction() as conn:
        entries = plan_repeating(ctx.project, rows)
        store.replace_repeating(conn, ctx.project.project_id, entries)
    return count_response(ctx, len(entries))
