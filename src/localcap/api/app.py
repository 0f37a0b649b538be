"""The ASGI application: the API endpoint (POST only, REDCap's errors in the requested format),
the survey pages (:mod:`localcap.surveys.pages`) and ``GET /health`` (:mod:`localcap.api.health`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from localcap.api.admin import admin_route
from localcap.api.context import AppState
from localcap.api.dispatch import dispatch, refuse_unknown_token
from localcap.api.errors import ApiError, error_format, error_response, project_busy
from localcap.api.health import health_route
from localcap.api.request import (
    ApiRequest,
    SpooledBody,
    parse_request,
    receive_body,
)
from localcap.api.security import SecurityHeaders
from localcap.db.transactions import WriteLockTimeout
from localcap.surveys.pages import build_routes

#: How long a stopping server waits for cut streams to log their end (audit, access log).
STREAMS_CLEANUP_SECONDS = 5.0

log = logging.getLogger("localcap")
# The multipart parser logs a warning for every malformed body; we answer those with a 400
# already, and a client sending many would flood the server's log.
logging.getLogger("python_multipart").setLevel(logging.ERROR)

NOT_IMPLEMENTED = "The requested method is not implemented."
#: The web server's page for a path that is neither the API nor a survey page: Apache's
#: standard 404, byte for byte as REDCapR's and redcapAPI's tests recorded it from REDCap.
NOT_FOUND_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_app(state: AppState) -> Starlette:
    async def api(request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse(NOT_IMPLEMENTED, status_code=501)
        parsed = ApiRequest()
        body: SpooledBody | None = None
        try:
            client = request.client.host if request.client else ""

            async def token_refusal(small: dict[str, str]) -> ApiError | None:
                early = ApiRequest(params=small, client=client)
                return await run_in_threadpool(refuse_unknown_token, state, early)

            # A big body's token is checked before the rest is received or parsed, so that
            # no one without a valid token makes the server hold what they send; a wrong
            # one is logged and limited as dispatch() does for a small body.
            body = await receive_body(request, state.max_body_bytes, token_refusal, parsed.params)
            parsed = await parse_request(body.replay(request))
            return await _run_until_disconnect(request, state, parsed)
        except ApiError as error:
            return error_response(error, error_format(parsed.params))
        except WriteLockTimeout:
            # The one place a lock wait that ran out is answered, whichever write it was.
            log.warning("a write to %s waited too long for its lock", parsed.params.get("content"))
            return error_response(project_busy(), error_format(parsed.params))
        except Exception:
            log.exception("unexpected error serving %s", parsed.params.get("content"))
            error = ApiError(500, "An unexpected error occurred on the server; it has been logged.")
            return error_response(error, error_format(parsed.params))
        finally:
            parsed.close()
            if body is not None:
                body.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        return Response(NOT_FOUND_PAGE, 404, media_type="text/html; charset=iso-8859-1")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        # Shutting down: requests cut at the end of the graceful period log their end first.
        await state.streams_done(STREAMS_CLEANUP_SECONDS)

    app = Starlette(
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
        routes=[
            Route("/api/", api, methods=ALL_METHODS),
            Route("/api", api, methods=ALL_METHODS),
            health_route(state),
            *([admin_route(state)] if state.admin_api else []),
            *build_routes(state),
        ],
        exception_handlers={404: not_found},
    )
    app.state.localcap = state
    return app


async def _run_until_disconnect(request: Request, state: AppState, parsed: ApiRequest) -> Response:
    """Dispatch in a worker thread, setting ``parsed.cancelled`` if the client disconnects
    meanwhile, or if this task is cancelled (a server stopping cancels its requests after
    its grace period): a worker thread cannot be stopped from outside, so the long
    handlers look at the flag."""

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        parsed.cancelled.set()

    watcher = asyncio.create_task(watch())
    try:
        return await run_in_threadpool(dispatch, state, parsed)
    except asyncio.CancelledError:
        parsed.cancelled.set()
        raise
    finally:
        watcher.cancel()
