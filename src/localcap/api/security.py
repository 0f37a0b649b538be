"""Headers every response carries unless its handler chose its own.

The API answers scripts, never pages: nothing it sends is meant to be framed, sniffed into
another type, or kept in a shared cache (an export holds patient data, and ``Cache-Control:
no-store`` keeps it out of proxies and browser caches). Survey pages set their own, stricter
policy (:mod:`localcap.surveys.pages`) and downloads theirs
(:func:`localcap.files.download_headers`); this middleware only fills in what is missing, so
error responses and every method's answer are covered without each handler remembering to.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware adding :data:`DEFAULT_HEADERS` that a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in DEFAULT_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
