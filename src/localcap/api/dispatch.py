"""Which handler serves which (content, action), and the checks every request passes first."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from localcap.api.context import ApiContext, AppState
from localcap.api.errors import BAD_ACTION, BAD_CONTENT, NO_PERMISSION, ApiError
from localcap.api.request import ApiRequest
from localcap.db.audit import AuditEntry, write_entry
from localcap.db.projects import load_project, load_project_user
from localcap.db.tokens import lookup_token
from localcap.db.transactions import read_snapshot

Handler = Callable[[ApiContext], Response]

#: (content, action) -> handler. ``action`` "" matches requests that give none.
HANDLERS: dict[tuple[str, str], Handler] = {}
#: Contents that a super token may call (everything else needs a project token).
SUPER_CONTENTS = {"project", "version"}
#: Calls that read no project data are not worth an audit row.
UNAUDITED = {"version"}


def method(content: str, *actions: str) -> Callable[[Handler], Handler]:
    """Register a handler for a content and one or more actions."""

    def register(handler: Handler) -> Handler:
        for action in actions:
            HANDLERS[(content, action)] = handler
        return handler

    return register


def resolve_action(request: ApiRequest, content: str) -> str:
    """REDCap's imports may omit ``action``: a ``data`` parameter means import."""
    action = request.get("action").strip()
    if action:
        return action
    if "data" in request.params and (content, "import") in HANDLERS:
        return "import"
    return "export"


def dispatch(state: AppState, request: ApiRequest) -> Response:
    token = request.get("token")
    with read_snapshot(state.engine) as conn:
        owner = lookup_token(conn, token)
        if owner is None:
            raise ApiError(403, NO_PERMISSION)
        if not state.limiter.allow(owner.username):
            raise ApiError(
                429,
                f"You have exceeded the maximum number of API requests per minute "
                f'({state.rate_limit}) for user "{owner.username}". Wait a minute and try '
                "again, or ask the administrator to raise the limit (localcap serve --rate-limit).",
            )
        nul = request.nul_parameter()
        if nul is not None:  # no name or value has one; PostgreSQL refuses them in queries
            raise ApiError(
                400, f'The parameter "{nul}" contains a NUL character, which is not valid'
            )
        content = request.get("content").strip()
        if not any(key[0] == content for key in HANDLERS):
            raise ApiError(400, BAD_CONTENT)
        ctx = ApiContext(request=request, state=state, username=owner.username)
        if owner.is_super:
            if content not in SUPER_CONTENTS:
                raise ApiError(403, NO_PERMISSION)
            ctx.is_super = True
        else:
            assert owner.project_id is not None
            membership = load_project_user(conn, owner.project_id, owner.username)
            project = load_project(conn, owner.project_id)
            if membership is None or project is None or membership.expired(date.today()):
                raise ApiError(403, NO_PERMISSION)
            ctx.project = project
            ctx.rights, ctx.group_id, ctx.role_id = (
                membership.rights,
                membership.group_id,
                membership.role_id,
            )
    action = resolve_action(request, content)
    handler = HANDLERS.get((content, action))
    if handler is None:
        raise ApiError(400, BAD_ACTION)
    if content in UNAUDITED:
        return handler(ctx)
    ctx.audit = AuditEntry(
        owner.username,
        owner.project_id,
        content,
        action,
        AuditEntry.clean_params(request.params, request.arrays),
    )
    try:
        response = handler(ctx)
    except ApiError as error:
        ctx.audit.status = error.status
        _write_audit(state, ctx.audit)
        raise
    if isinstance(response, StreamingResponse):
        response.body_iterator = _audited(response.body_iterator, state, ctx.audit)
    else:
        ctx.audit.status = response.status_code
        _write_audit(state, ctx.audit)
    return response


def _write_audit(state: AppState, entry: AuditEntry) -> None:
    with state.engine.begin() as conn:
        write_entry(conn, entry)


async def _audited(
    body: AsyncIterable[Any], state: AppState, entry: AuditEntry
) -> AsyncIterator[Any]:
    """Log a streamed export once it is complete (or cut off), with its row count."""
    complete = False
    try:
        async for chunk in body:
            yield chunk
        complete = True
    finally:
        if not complete:
            entry.status = 499  # the client went away mid-stream
        await run_in_threadpool(_write_audit, state, entry)
