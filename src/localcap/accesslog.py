"""The server's access log: one JSON object per line and HTTP request, on standard output
(``localcap serve --access-log``, the default), for log collectors (journald, Loki, ELK...).

Fields: ``ts`` (UTC, ISO 8601), ``client`` (the client's address, as trusted proxies say it),
``method``, ``path`` (never the query string: a survey link's hash or a token put in a URL
stays out; a token-shaped run in the path is blanked), ``status``, ``ms`` (until the last
byte was handed to the connection), ``bytes_in`` and ``bytes_out`` (bodies), ``outcome``:
``complete``, ``cut`` (the response was stopped midway: the client went away or a graceful
shutdown ran out of time, see docs/deploy.md) or ``error``; ``pid`` tells workers apart.
Who called what (user, project, content and action) is in the audit log, not here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localcap.logredact import redact_line

log = logging.getLogger("localcap.access")


def install_access_log() -> None:
    """Send the access log's lines to standard output, as they are (once per process)."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


class AccessLog:
    """ASGI middleware writing one access-log line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        line: dict[str, Any] = {"status": 0, "bytes_in": 0, "bytes_out": 0, "outcome": "cut"}
        started = time.perf_counter()

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                line["bytes_in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                line["status"] = message["status"]
            elif message["type"] == "http.response.body":
                line["bytes_out"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    line["outcome"] = "complete"
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        except asyncio.CancelledError:
            raise
        except Exception:
            line["outcome"] = "error"
            raise
        finally:
            client = scope.get("client")
            log.info(
                orjson.dumps(
                    {
                        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "client": client[0] if client else "",
                        "method": scope["method"],
                        "path": redact_line(scope["path"]),
                        **line,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "pid": os.getpid(),
                    }
                ).decode()
            )
