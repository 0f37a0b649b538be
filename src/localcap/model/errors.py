"""The domain's refusals, without HTTP.

Domain code (model, logic, reports, formats, use cases) raises these with REDCap's wording;
the API translates them to REDCap's HTTP errors in one place (``api.errors.from_domain``), the
survey pages and the CLI to their own answers. A subclass names the kind of refusal, never a
status code.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse; ``message`` says why in REDCap's words (an invalid input
    unless a subclass says otherwise)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotPermitted(DomainError):
    """The caller's rights do not allow it (REDCap answers 403)."""


class NotFound(DomainError):
    """What the request names does not exist (REDCap answers 404)."""
