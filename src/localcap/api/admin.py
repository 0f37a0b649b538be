"""``POST /admin/``: the server administration a test suite needs over HTTP, guarded by a
super token, and only when the server was started with ``localcap serve --admin-api``.

REDCap has nothing like it: its super token can only create projects. A test double needs
more (a token per user of a fresh project, snapshots, a reset), and a server whose super
token could wipe it is not what an operator expects by default, hence the opt-in. Requests
are form-encoded (``token``, ``action`` and the action's parameters); answers are JSON, and
errors REDCap-style JSON (``{"error": ...}``). Every call is in the audit log; the tokens
never are. The actions are in :data:`ACTIONS` and ``docs/TESTING.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localcap.api.context import AppState
from localcap.api.dispatch import refuse_unknown_token
from localcap.api.errors import (
    NO_PERMISSION,
    ApiError,
    error_response,
    from_domain,
    project_busy,
)
from localcap.api.request import ApiRequest
from localcap.db.tokens import TokenOwner, lookup_token
from localcap.db.transactions import WriteLockTimeout, read_snapshot
from localcap.model.errors import DomainError

log = logging.getLogger("localcap")

ADMIN_PATH = "/admin/"
#: Admin requests are a few parameters; anything bigger is refused unread.
MAX_ADMIN_BODY = 64 << 10

Action = Callable[[AppState, ApiRequest, TokenOwner], Any]


def _int(request: ApiRequest, name: str) -> int:
    value = request.get(name).strip()
    if not value.isdigit():
        raise ApiError(400, f'The parameter "{name}" must be an integer')
    return int(value)


def _tokens(state: AppState, request: ApiRequest, owner: TokenOwner) -> dict[str, str]:
    from localcap.admin.tokens import mint_project_tokens

    names = [n.strip() for n in request.get("usernames").split(",") if n.strip()]
    if not names:
        raise ApiError(400, 'The parameter "usernames" is missing or empty')
    return mint_project_tokens(state.engine, _int(request, "project_id"), names, owner.username)


def _name(request: ApiRequest) -> str:
    return request.get("name").strip()


def _snapshot_save(state: AppState, request: ApiRequest, owner: TokenOwner) -> dict[str, object]:
    from localcap.admin.snapshots import save_snapshot

    snapshot = save_snapshot(
        state.engine, state.data_dir, state.file_store, _name(request), owner.username
    )
    return snapshot.as_json()


def _snapshot_restore(state: AppState, request: ApiRequest, owner: TokenOwner) -> dict[str, object]:
    from localcap.admin.snapshots import restore_snapshot

    snapshot = restore_snapshot(
        state.engine, state.data_dir, state.file_store, _name(request), owner.username
    )
    return snapshot.as_json()


def _snapshot_list(state: AppState, request: ApiRequest, owner: TokenOwner) -> list[object]:
    from localcap.admin.snapshots import list_snapshots

    return [s.as_json() for s in list_snapshots(state.data_dir)]


def _snapshot_delete(state: AppState, request: ApiRequest, owner: TokenOwner) -> dict[str, str]:
    from localcap.admin.snapshots import delete_snapshot

    delete_snapshot(state.data_dir, state.engine, _name(request))
    return {"deleted": _name(request)}


def _reset(state: AppState, request: ApiRequest, owner: TokenOwner) -> dict[str, int]:
    from localcap.admin.snapshots import reset_server

    return {"files_deleted": reset_server(state.engine, state.file_store, owner.username)}


def _info(state: AppState, request: ApiRequest, owner: TokenOwner) -> dict[str, str]:
    from importlib.metadata import version

    return {"username": owner.username, "version": version("localcap")}


#: action -> what it does; each returns what the answer's JSON holds.
ACTIONS: dict[str, Action] = {
    "info": _info,
    "snapshot_save": _snapshot_save,
    "snapshot_restore": _snapshot_restore,
    "snapshot_list": _snapshot_list,
    "snapshot_delete": _snapshot_delete,
    "reset": _reset,
    "tokens": _tokens,
}


async def _params(request: Request) -> dict[str, str]:
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ADMIN_BODY:
            raise ApiError(413, "The request is too large for the admin endpoint")
        chunks.append(chunk)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(400, "The admin endpoint takes a form-encoded POST body")
    try:
        return dict(parse_qsl(b"".join(chunks).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not valid UTF-8") from None


def _run(state: AppState, request: ApiRequest) -> Any:
    refusal = refuse_unknown_token(state, request)
    if refusal is not None:
        raise refusal
    with read_snapshot(state.engine) as conn:
        owner = lookup_token(conn, request.get("token"))
    if owner is None or not owner.is_super:
        raise ApiError(403, NO_PERMISSION)
    action = ACTIONS.get(request.get("action").strip())
    if action is None:
        raise ApiError(400, f"The action must be one of: {', '.join(ACTIONS)}")
    try:
        return action(state, request, owner)
    except DomainError as refusal:
        raise from_domain(refusal) from refusal


def admin_route(state: AppState) -> Route:
    async def admin(request: Request) -> Response:
        try:
            params = await _params(request)
            client = request.client.host if request.client else ""
            parsed = ApiRequest(params=params, client=client)
            return JSONResponse(await run_in_threadpool(_run, state, parsed))
        except ApiError as error:
            return error_response(error, "json")
        except WriteLockTimeout:
            return error_response(project_busy(), "json")
        except Exception:
            log.exception("unexpected error in the admin endpoint")
            error = ApiError(500, "An unexpected error occurred on the server; it has been logged.")
            return error_response(error, "json")

    return Route(ADMIN_PATH, admin, methods=["POST"])
