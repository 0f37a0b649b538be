"""Branching logic on the survey page: which questions a respondent sees, decided by the server.

The page has no scripts, so the server evaluates every question's ``branching_logic`` when it
renders the page (against the record's stored data) and again when answers arrive (against the
stored data with the submitted answers laid over the participant's own row). That second
evaluation is the one that counts: a hidden question is neither required nor saved, and its
stored value is erased, as REDCap erases the values of fields hidden on a survey page.

The logic context is the one Export Records' ``filterLogic`` uses
(:func:`localcap.model.filtering.record_context`): other events, other instances, and the
record/DAG/event/instance smart variables. ``[user-name]`` is blank: a survey respondent is not
a REDCap user.

Decisions where REDCap's behaviour is not documented:

* A question whose logic does not compile (an unknown field, a smart variable localcap does not
  know) is shown: hiding it would silently drop answers the designer wanted.
* Hiding cascades: a question hidden reads as blank to the logic of the others (its value is
  about to be erased), and the evaluation repeats until nothing changes.
* A section header is shown when at least one question of its section is shown (REDCap hides a
  header whose fields are all hidden).
"""

from __future__ import annotations

from collections.abc import Sequence

from localcap.logic import CompiledLogic, DictContext
from localcap.logic.context import Value
from localcap.model.action_tags import survey_tags
from localcap.model.calc import format_calc
from localcap.model.filtering import FilterError, compile_filter, event_names, record_context
from localcap.model.project import Field, Project
from localcap.model.rows import StoredRow
from localcap.model.surveys import Participant
from localcap.surveys.response import Submission, survey_fields


def _compiled(project: Project, fields: Sequence[Field]) -> dict[str, CompiledLogic]:
    """Each field's compiled branching logic; fields without (or with broken) logic are absent."""
    compiled = {}
    for f in fields:
        if f.branching_logic.strip():
            try:
                compiled[f.field_name] = compile_filter(project, f.branching_logic)
            except FilterError:
                continue
    return compiled


def _context(
    project: Project,
    participant: Participant,
    rows: Sequence[StoredRow],
    group_id: int | None,
    sub: Submission | None,
) -> tuple[DictContext, dict[str, Value]]:
    """The record's logic context pointed at the participant's row, and that row (in which the
    submitted answers replace the stored ones)."""
    assert participant.record is not None
    ctx = record_context(project, participant.record, rows, group_id=group_id)
    ctx.event = event_names(project).get(participant.event_id)
    repeats = project.is_repeating_form(participant.event_id, participant.form_name)
    ctx.repeat_instrument = participant.form_name if repeats else ""
    ctx.instance = participant.instance
    row = ctx.rows.setdefault((ctx.event, ctx.instance), {})
    row.setdefault(project.record_id_field, participant.record)
    if sub is not None:
        row.update(sub.values)
        row.update(sub.checked)
    return ctx, row


def visible_fields(
    project: Project,
    participant: Participant,
    rows: Sequence[StoredRow],
    group_id: int | None,
    sub: Submission | None = None,
) -> set[str]:
    """Names of the survey's fields shown to the respondent (``sub``: with these answers)."""
    fields = survey_fields(project, participant.form_name)
    logic = _compiled(project, fields)
    ctx, row = _context(project, participant, rows, group_id, sub)
    hidden: set[str] = set()
    for _ in range(len(logic) + 1):
        now_hidden = {name for name, compiled in logic.items() if not compiled.matches(ctx)}
        if now_hidden == hidden:
            break
        hidden = now_hidden
        for name in hidden:
            row[name] = [] if project.field_by_name[name].field_type == "checkbox" else ""
    return {f.field_name for f in fields} - hidden


def shown_headers(fields: Sequence[Field], visible: set[str]) -> set[str]:
    """Fields whose section header is shown: those starting a section with a visible field."""
    shown: set[str] = set()
    opener = ""
    for f in fields:
        if f.section_header:
            opener = f.field_name
        if opener and f.field_name in visible:
            shown.add(opener)
    return shown


def calctext_values(
    project: Project,
    participant: Participant,
    rows: Sequence[StoredRow],
    group_id: int | None,
    sub: Submission | None = None,
) -> dict[str, str]:
    """``@CALCTEXT`` fields' shown values, computed like branching logic (the submitted
    answers laid over the stored row). An expression that does not compile or fails shows
    nothing; numbers print as calc fields store them, text as it is."""
    values: dict[str, str] = {}
    ctx = None
    for f in survey_fields(project, participant.form_name):
        expression = survey_tags(f).calctext
        if not expression:
            continue
        if ctx is None:
            ctx, _ = _context(project, participant, rows, group_id, sub)
        try:
            result = compile_filter(project, expression).evaluate(ctx)
        except Exception:  # noqa: BLE001 - a designer's broken expression shows blank
            values[f.field_name] = ""
            continue
        number = format_calc(result) if not isinstance(result, str) else ""
        values[f.field_name] = number or ("" if result is None else str(result))
    return values


def logic_true(
    project: Project,
    record: str,
    rows: Sequence[StoredRow],
    group_id: int | None,
    event_id: int,
    logic: str,
) -> bool:
    """A survey queue condition's logic for the record, in the queue entry's event. Logic
    that does not compile or fails is false: the survey it gates is not offered."""
    ctx = record_context(project, record, rows, group_id=group_id)
    ctx.event = event_names(project).get(event_id)
    try:
        return bool(compile_filter(project, logic).matches(ctx))
    except Exception:  # noqa: BLE001 - a broken condition offers nothing
        return False
