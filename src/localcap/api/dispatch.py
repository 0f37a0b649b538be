"""The checks every request passes first, then its handler (:mod:`localcap.api.routes`)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from datetime import date
from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from localcap.api.context import ApiContext, AppState
from localcap.api.errors import BAD_ACTION, BAD_CONTENT, NO_PERMISSION, ApiError, from_domain
from localcap.api.request import ApiRequest
from localcap.api.routes import CONTENTS, ROUTES, SUPER_CONTENTS
from localcap.db.audit import REDACTED, AuditEntry, is_token_name, token_values, write_entry
from localcap.db.projects import Membership, load_project_user
from localcap.db.tokens import TokenOwner, lookup_token
from localcap.db.transactions import WriteLockTimeout, read_snapshot, write_transaction
from localcap.model.audit import TOKEN_SHAPE, describe_call
from localcap.model.errors import DomainError
from localcap.model.project import Project
from localcap.ratelimit import address_bucket

log = logging.getLogger("localcap")

#: Token-shaped values an error message may quote that are looked up (the rest are blanked).
MAX_TOKEN_LOOKUPS = 20
#: Who the audit log names for a call whose token is unknown.
INVALID_TOKEN_USER = "[invalid token]"


def resolve_action(request: ApiRequest, content: str) -> str:
    """REDCap's imports may omit ``action``: a ``data`` parameter means import."""
    action = request.get("action").strip()
    if action:
        return action
    if request.has("data") and (content, "import") in ROUTES:
        return "import"
    return "export"


def dispatch(state: AppState, request: ApiRequest) -> Response:
    """Authenticate, check and run one API call, writing its audit entry (refusals too)."""
    token = request.get("token")
    secrets = token_values(request.params, request.arrays)
    content = request.get("content").strip()[:50]  # the audit column's width
    # One transaction for everything the checks read: the token, the caller's membership and
    # the project's design (the design version only, when this process has it cached).
    with read_snapshot(state.engine) as conn:
        owner = lookup_token(conn, token)
        caller = _load_caller(state, conn, owner)
    if owner is None:
        _refuse_invalid_token(state, request, content, secrets)
        raise ApiError(403, NO_PERMISSION)
    action = request.get("action").strip()[:50]
    entry = AuditEntry(
        owner.username,
        owner.project_id,
        content,
        action or "export",
        AuditEntry.clean_params(request.params, request.arrays, request.body_sizes()),
        client=request.client,
        secrets=secrets,
    )
    try:
        ctx = _authorise(state, request, owner, content, caller)
        action = resolve_action(request, content)
        handler = ROUTES.get((content, action))
        if handler is None:
            raise ApiError(400, BAD_ACTION)
        entry.action = action
        entry.description = entry.description or describe_call(content, action)
        ctx.audit = entry
        try:
            response = handler(ctx)
        except DomainError as refusal:
            raise from_domain(refusal) from refusal
    except ApiError as error:
        if error.status != 429:  # a rate-limited user's calls are counted, not logged
            entry.status = error.status
            _write_audit(state, entry)
        error.message = _without_tokens(state, error.message, secrets)
        raise
    except Exception as error:
        # A lock wait that ran out is answered 503 (api.app); anything else is a 500.
        entry.status = 503 if isinstance(error, WriteLockTimeout) else 500
        _write_audit(state, entry)
        raise
    if isinstance(response, StreamingResponse):
        response = AuditedStream(response, state, entry)
    else:
        entry.status = response.status_code
        _write_audit_of_done_call(state, entry)
    return response


def refuse_unknown_token(state: AppState, request: ApiRequest) -> ApiError | None:
    """None when the request's token is a token at all (its rights are for :func:`dispatch`
    to judge), else the error refusing it, the call logged and limited as :func:`dispatch`
    does. For a big body, whose token is checked before the rest is received or parsed."""
    with read_snapshot(state.engine) as conn:
        if lookup_token(conn, request.get("token")) is not None:
            return None
    secrets = token_values(request.params, request.arrays)
    try:
        _refuse_invalid_token(state, request, request.get("content").strip()[:50], secrets)
    except ApiError as error:
        return error
    return ApiError(403, NO_PERMISSION)


#: A project token's membership and project (either None when it no longer has them).
Caller = tuple[Membership | None, Project | None]


def _load_caller(state: AppState, conn: Connection, owner: TokenOwner | None) -> Caller:
    """What :func:`_authorise` checks a project token's owner against (nothing for a super
    token or an unknown one)."""
    if owner is None or owner.project_id is None:
        return None, None
    return (
        load_project_user(conn, owner.project_id, owner.username),
        state.design_cache.get(conn, owner.project_id),
    )


def _authorise(
    state: AppState, request: ApiRequest, owner: TokenOwner, content: str, caller: Caller
) -> ApiContext:
    """The caller's context: rate limit, the method's existence, the project and rights."""
    if not state.limiter.allow(owner.username):
        raise ApiError(
            429,
            f"You have exceeded the maximum number of API requests per minute "
            f'({state.rate_limit}) for user "{owner.username}". Wait a minute and try '
            "again, or ask the administrator to raise the limit (localcap serve --rate-limit).",
        )
    nul = request.nul_parameter()
    if nul is not None:  # no name or value has one; PostgreSQL refuses them in queries
        name = "token" if is_token_name(nul) else nul
        raise ApiError(400, f'The parameter "{name}" contains a NUL character, which is not valid')
    if content not in CONTENTS:
        raise ApiError(400, BAD_CONTENT)
    ctx = ApiContext(request=request, state=state, username=owner.username)
    if owner.is_super:
        if content not in SUPER_CONTENTS:
            raise ApiError(403, NO_PERMISSION)
        ctx.is_super = True
        return ctx
    membership, project = caller
    if membership is None or project is None or membership.expired(date.today()):
        raise ApiError(403, NO_PERMISSION)
    ctx.project_loaded = project
    ctx.rights_loaded, ctx.group_id, ctx.role_id = (
        membership.rights,
        membership.group_id,
        membership.role_id,
    )
    return ctx


def _refuse_invalid_token(
    state: AppState, request: ApiRequest, content: str, secrets: list[str]
) -> None:
    """Log a call whose token is unknown or malformed, per client address: beyond
    ``invalid_token_attempts`` a minute the address gets 429s (nothing logged, nothing looked
    up), and all addresses together log at most ten times that a minute."""
    client = request.client
    if not state.bad_token_limiter.allow(address_bucket(client)):
        raise ApiError(
            429,
            "Too many API requests with an invalid token from this address. Wait a minute "
            "and try again.",
        )
    if not state.unauthenticated_log.allow("*"):
        return
    _write_audit(
        state,
        AuditEntry(
            INVALID_TOKEN_USER,
            None,
            content,
            request.get("action").strip()[:50],
            {},
            status=403,
            log_type="manage",
            description="API request with an invalid token",
            client=client,
            secrets=secrets,
        ),
    )


def _without_tokens(state: AppState, message: str, secrets: list[str]) -> str:
    """An error message with every token blanked: messages quote values back (``fields``,
    record names), and a token pasted into one must not come back in the answer. A run of
    exactly 32 or 64 hex digits is blanked when it is a live token (an MD5 record name stays
    readable); any other run of 32+ hex digits (a token glued to more digits) always is."""
    if not TOKEN_SHAPE.search(message):
        return message
    checked = 0

    def blank(match: re.Match[str]) -> str:
        nonlocal checked
        run = match.group(0)
        if len(run) not in (32, 64) or run in secrets or checked >= MAX_TOKEN_LOOKUPS:
            return REDACTED
        checked += 1
        with read_snapshot(state.engine) as conn:
            return REDACTED if lookup_token(conn, run) is not None else run

    return TOKEN_SHAPE.sub(blank, message)


def _write_audit(state: AppState, entry: AuditEntry) -> None:
    """Write the entry, waiting for SQLite's write lock as long as a write may
    (:class:`WriteLockTimeout` if it stays busy: the call is then answered 503)."""
    with write_transaction(state.engine, None) as conn:
        write_entry(conn, entry)


def _write_audit_of_done_call(state: AppState, entry: AuditEntry) -> None:
    """The entry of a call that succeeded (its change is committed, or its export sent): a
    503 now would tell the client that nothing changed, so if SQLite stays busy beyond the
    bound the entry is reported on the server log instead."""
    try:
        _write_audit(state, entry)
    except WriteLockTimeout:
        log.error(
            "audit entry not written (the database stayed busy): user %s, project %s, %s %s, "
            "status %s",
            entry.username,
            entry.project_id,
            entry.content,
            entry.action,
            entry.status,
        )


class AuditedStream(StreamingResponse):
    """A streamed export that logs its audit entry (with its row count) once the stream
    ends, however it ends.

    Complete: logged when the body is exhausted, before the response's last message, so a
    client that reads the log right after its export finds it there. Cut off by the client
    (499) or cut by a stopping server: logged as the response ends. A server stops a request
    still running after its graceful period by cancelling its task, and runs the event loop
    only briefly after that (the app's shutdown waits for :attr:`AppState.open_streams`), so
    that entry is written at once, in this thread, before the cancellation goes on."""

    def __init__(self, stream: StreamingResponse, state: AppState, entry: AuditEntry) -> None:
        super().__init__(
            self._logged_at_end(stream.body_iterator),
            stream.status_code,
            background=stream.background,
        )
        self.raw_headers = stream.raw_headers
        self.state = state
        self.entry = entry
        self.logged = False

    async def _logged_at_end(self, body: AsyncIterable[Any]) -> AsyncIterator[Any]:
        async for chunk in body:
            yield chunk
        self.logged = True
        await run_in_threadpool(_write_audit_of_done_call, self.state, self.entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cancelled = False
        self.state.open_streams += 1
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            try:
                if not self.logged:
                    self.logged = True
                    self.entry.status = 499  # the client went away, or the server cut it
                    if cancelled:
                        _write_audit_of_done_call(self.state, self.entry)
                    else:
                        await run_in_threadpool(_write_audit_of_done_call, self.state, self.entry)
            finally:
                self.state.open_streams -= 1
