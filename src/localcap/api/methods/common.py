"""Small helpers the method modules share: rendering lists, reading import data, answers."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence
from typing import Any

from starlette.responses import PlainTextResponse, Response

from localcap.api.context import ApiContext
from localcap.api.errors import IN_A_DAG, NO_DESIGN, OUTSIDE_OWN_DAG, ApiError, error_format
from localcap.formats.lists import render_records
from localcap.formats.parsers import DataParseError, parse_data
from localcap.model.audit import Change, assignments, bounded, printable

#: Ids and numbers beyond this cannot exist (database integers are 64-bit at most).
MAX_ID = 2**31 - 1

LONGITUDINAL_ONLY = "You cannot export {what} for classic projects"


def list_response(
    ctx: ApiContext, items: Sequence[dict[str, Any]], header: Sequence[str]
) -> Response:
    """A list export in the requested format (json/csv/xml; odm and unknown mean xml).

    JSON keeps the values' types: REDCap sends ids and 0/1 rights as JSON numbers (PyCap's
    doctests record ``'arm_num': 1``); CSV and XML are text anyway.
    """
    fmt = ctx.format if ctx.format in ("json", "csv") else "xml"
    body, content_type = render_records(items, fmt, list(header))
    return Response(body, headers={"content-type": content_type})


def import_rows(
    ctx: ApiContext,
    *,
    nested: frozenset[str] = frozenset(),
    empty_columns: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The ``data`` parameter parsed in the request's ``format``; 400 when it is unreadable,
    or when a value is not plain text (an object or a list, except in the ``nested`` columns;
    a NUL; a lone surrogate): every import method reads its data here.

    ``empty_columns``: for imports where "none" is a meaningful answer, a document that
    clearly says "no rows" (``[]``; a CSV header naming only these columns; ``<records/>``)
    is an empty list rather than an error. Anything else without rows stays a 400, so that
    garbage can never pass for "none" and clear a setting."""
    data = ctx.request.get("data")
    if not data.strip():
        raise ApiError(400, "The data being imported is empty or was not provided")
    fmt = ctx.format if ctx.format in ("json", "csv", "xml") else "xml"
    try:
        rows = parse_data(data, fmt, nested=nested)
    except DataParseError as exc:
        raise ApiError(400, str(exc)) from None
    if not rows and not (empty_columns and _says_no_rows(data, fmt, empty_columns)):
        raise ApiError(400, "The data being imported is empty or was not provided")
    return rows


def _says_no_rows(data: str, fmt: str, columns: Collection[str]) -> bool:
    text = data.strip().lstrip("\ufeff")
    if fmt == "json":
        return text == "[]"
    if fmt == "csv":
        header = next(csv.reader(io.StringIO(text)), [])
        return bool(header) and all(name.strip() in columns for name in header)
    return text.endswith("<records/>") or text.endswith("</records>")


def count_response(ctx: ApiContext, count: int) -> Response:
    """The plain count most imports and deletes answer with (PyCap reads it as JSON: a number)."""
    fmt = error_format(ctx.request.params)
    media = {"json": "application/json", "csv": "text/csv"}.get(fmt, "text/xml")
    return PlainTextResponse(str(count), headers={"content-type": f"{media}; charset=utf-8"})


def require_design(ctx: ApiContext) -> None:
    ctx.require_import()
    ctx.require("design", NO_DESIGN)


def require_no_dag(ctx: ApiContext) -> None:
    """Managing DAGs (and who is in which) is for users in no DAG: a user's DAG is a boundary
    that user must not be able to leave, widen or remove. REDCap keeps DAG-assigned users off
    its DAG page; its API's rule is undocumented, so localcap refuses (403)."""
    if ctx.group_id is not None:
        raise ApiError(403, IN_A_DAG)


def require_own_dag(ctx: ApiContext, username: str, group_id: int | None) -> None:
    """A caller in a DAG (with User Rights) changes only users who are, and stay, in that DAG."""
    if ctx.group_id is not None and group_id != ctx.group_id:
        raise ApiError(403, OUTSIDE_OWN_DAG.format(username=username))


def own_dag_users(ctx: ApiContext, users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The users a caller may see in user listings: a caller in a DAG sees that DAG's users
    only (Export Users' rule, for every listing of users)."""
    if ctx.group_id is None:
        return users
    return [u for u in users if u["group_id"] == ctx.group_id]


def require_longitudinal(ctx: ApiContext, what: str) -> None:
    """Arms, events and mappings are exported when the longitudinal setting is on, even with
    no events left (PyCap records an empty list after an arm override removed them all),
    while Export Project Info then reports the project as classic (redcapAPI)."""
    if not ctx.project.longitudinal_enabled:
        raise ApiError(400, LONGITUDINAL_ONLY.format(what=what))


def audit_creation(ctx: ApiContext, project_id: int, description: str) -> None:
    """A super token's Create Project belongs in the new project's log (REDCap's first entry)."""
    if ctx.audit is not None:
        ctx.audit.project_id = project_id
        ctx.audit.description = description


def audit_change(ctx: ApiContext, action: str, pairs: list[tuple[str, Any]]) -> None:
    """One line of the call's "what" in the audit log: REDCap's action words (``Edit user
    bob``, ``Create data access group``) and ``name = 'value'`` details."""
    if ctx.audit is not None:
        shown = printable(bounded(action, 300))  # usernames in it are the callers' own text
        ctx.audit.changes.append(Change(shown, details=assignments(pairs)))
