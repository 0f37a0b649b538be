"""HTTP helpers shared by the API and the survey pages (neither owns them).

Both serve requests through Starlette and both must refuse a body bigger than they are
willing to read before reading it; the API turns :class:`BodyTooLarge` into REDCap's error,
the survey pages into their own page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message


class BodyTooLarge(Exception):
    """A request body over the accepted size (``limit`` bytes)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


def limit_body(request: Request, limit: int) -> Request:
    """Refuse bodies over ``limit`` bytes: at once by Content-Length, else while streaming
    (the survey pages' small forms, parsed as they arrive)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise BodyTooLarge(limit)
    received = 0
    receive = request.receive

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise BodyTooLarge(limit)
        return message

    return Request(request.scope, counting_receive)
