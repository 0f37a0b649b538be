"""uvicorn's httptools protocol with the limits it lacks: a deadline for the request line and
headers, a silence limit while a body arrives, caps on header count and size, and on open
connections.

uvicorn (0.54, pinned) has a keep-alive timeout but no header-read timeout: a client that
opens a connection and sends one header byte every few seconds holds it for ever, and a few
thousand such clients exhaust the process's file descriptors (slowloris). Nor does its
httptools protocol limit headers: 600 headers of 1 MB each were read and kept (the h11
protocol has ``h11_max_incomplete_event_size``, but h11 is several times slower). This
subclass adds both, for every route (API and survey pages alike), at the connection level
where no application code can be bypassed. The values are in :mod:`localcap.limits`;
a reverse proxy in front should enforce its own (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

import asyncio
import os
from http import HTTPStatus

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from localcap import limits


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` plus :data:`~localcap.limits.HEADER_TIMEOUT`,
    :data:`~localcap.limits.BODY_IDLE_TIMEOUT`, :data:`~localcap.limits.MAX_HEADERS` and
    :data:`~localcap.limits.MAX_HEADER_BYTES`."""

    _in_headers = True
    _in_body = False
    _header_bytes = 0
    _header_count = 0
    _too_large = False
    _timer: asyncio.TimerHandle | None = None

    #: Open connections of this process at most (``localcap serve --max-connections``).
    max_connections = int(
        os.environ.get("LOCALCAP_MAX_CONNECTIONS", limits.DEFAULT_MAX_CONNECTIONS)
    )

    # -- connection -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            # Closed before a byte is read: the descriptor is free again at once.
            transport.abort()
            return
        self._start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._in_body:
            self._arm(limits.BODY_IDLE_TIMEOUT, self._body_silent)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # localcap serves no websockets
        except httptools.HttpParserError:
            if self._too_large:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_headers and not self.transport.is_closing():
            # Whatever of this read belongs to the headers (all of it, when they are still
            # incomplete after it) counts; httptools holds an incomplete header in memory.
            self._header_bytes += len(data)
            if self._header_bytes > limits.MAX_HEADER_BYTES:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    # -- parser callbacks -----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_headers:  # the next request on a kept-alive connection
            self._start_headers()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > limits.MAX_HEADERS:
            self._too_large = True
            raise ValueError("too many headers")  # stops the parser: a 431 follows
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._in_body = True
        self._arm(limits.BODY_IDLE_TIMEOUT, self._body_silent)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._cancel_timer()
        super().on_message_complete()

    # -- limits ---------------------------------------------------------------------------
    def _start_headers(self) -> None:
        self._in_headers, self._in_body = True, False
        self._header_bytes = self._header_count = 0
        self._too_large = False
        self._arm(limits.HEADER_TIMEOUT, self._headers_late)

    def _arm(self, delay: float, callback: object) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(delay, callback)  # type: ignore[arg-type]

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if not self._in_headers or self.transport.is_closing():
            return
        if self._header_bytes:
            self._refuse(HTTPStatus.REQUEST_TIMEOUT)
        else:  # a connection that never sent a byte: nothing to answer
            self.transport.close()

    def _body_silent(self) -> None:
        self._timer = None
        if not self._in_body or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the application is not reading: not the client's fault
            self._arm(limits.BODY_IDLE_TIMEOUT, self._body_silent)
            return
        # The application sees a disconnect (Starlette raises ClientDisconnect).
        self.transport.close()

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer ``status`` and close the connection (no application is involved yet)."""
        self._cancel_timer()
        self._in_headers = self._in_body = False
        body = f"{status.value} {status.phrase}".encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status.value, status.phrase.encode(), len(body), body)
        )
        self.transport.close()
