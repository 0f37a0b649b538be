"""The one exception the logic package raises for bad expressions."""

from __future__ import annotations


class LogicSyntaxError(Exception):
    """An expression that cannot be parsed or compiled.

    Callers (report export, the API's ``filterLogic``) turn it into a client error, so it carries
    the 0-based character ``position`` and the offending ``token`` for a precise message.
    """

    def __init__(self, message: str, position: int, token: str) -> None:
        self.position = position
        self.token = token
        self.reason = message
        super().__init__(f"{message}: {token!r} at position {position}")
