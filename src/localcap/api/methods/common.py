"""Small helpers the method modules share: rendering lists, reading import data, answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.responses import PlainTextResponse, Response

from localcap.api.context import ApiContext
from localcap.api.errors import IN_A_DAG, NO_DESIGN, OUTSIDE_OWN_DAG, ApiError, error_format
from localcap.formats.lists import render_records
from localcap.formats.parsers import DataParseError, parse_data

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


def import_rows(ctx: ApiContext, nested: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The ``data`` parameter parsed in the request's ``format``; 400 when it is unreadable,
    or when a value is not plain text (an object or a list, except in the ``nested`` columns;
    a NUL; a lone surrogate): every import method reads its data here."""
    data = ctx.request.get("data")
    if not data.strip():
        raise ApiError(400, "The data being imported is empty or was not provided")
    fmt = ctx.format if ctx.format in ("json", "csv", "xml") else "xml"
    try:
        rows = parse_data(data, fmt, nested=nested)
    except DataParseError as exc:
        raise ApiError(400, str(exc)) from None
    if not rows:
        raise ApiError(400, "The data being imported is empty or was not provided")
    return rows


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


def require_longitudinal(ctx: ApiContext, what: str) -> None:
    if not ctx.proj.is_longitudinal:
        raise ApiError(400, LONGITUDINAL_ONLY.format(what=what))


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def audit_creation(ctx: ApiContext, project_id: int, description: str) -> None:
    """A super token's Create Project belongs in the new project's log (REDCap's first entry)."""
    if ctx.audit is not None:
        ctx.audit.project_id = project_id
        ctx.audit.description = description
