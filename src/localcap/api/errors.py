"""API errors and how they are rendered: REDCap's bodies and statuses in the right format."""

from __future__ import annotations

from starlette.responses import Response

from localcap.formats.errors import render_error
from localcap.limits import BUSY_RETRY_AFTER
from localcap.model.errors import DomainError, NotFound, NotPermitted


class ApiError(Exception):
    """An error the client sees: an HTTP status and REDCap's message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: Extra response headers (a 503's ``Retry-After``).
        self.headers = headers or {}


# The messages REDCap gives, word for word (docs/REDCAP_API.md says where each was recorded).
NO_PERMISSION = "You do not have permissions to use the API"
NO_EXPORT = "You do not have API Export privileges"
NO_IMPORT = "You do not have API Import/Update privileges"
NO_DELETE = "You do not have Delete Record privileges"
NO_DESIGN = (
    "You do not have permissions to use this method: Project Design and Setup rights are required"
)
NO_USER_RIGHTS = (
    "You do not have permissions to use this method: User Rights privileges are required"
)
NO_DAG_RIGHTS = (
    "You do not have permissions to use this method: Data Access Groups privileges are required"
)
IN_A_DAG = (
    "You do not have permissions to use this method: a user in a data access group may not "
    "manage data access groups"
)
OUTSIDE_OWN_DAG = (
    "You do not have permissions to change the user '{username}': a user in a data access "
    "group may only manage users of that group, and only within it"
)
ROLE_OUTSIDE_OWN_DAG = (
    "You do not have permissions to change the user role '{role}': users outside your data "
    "access group are in it, and a user in a data access group may only manage users of "
    "that group"
)
HIDDEN_REPORT_FIELDS = (
    "Report '{title}': the {what} refers to fields that your data export rights do not allow "
    "you to export: {fields}. A report you define may only filter and sort on fields you can "
    "export."
)
#: A write that waited :data:`localcap.limits.WRITE_LOCK_TIMEOUT` for its project's lock.
#: REDCap has no such answer (PHP requests queue on MySQL's locks until its timeout): the
#: wording and the 503 with ``Retry-After`` are localcap's (HTTP's "temporarily unable").
PROJECT_BUSY = (
    "The project is busy with another write; try again in a few seconds. Nothing was changed "
    "by this request."
)
BAD_CONTENT = 'The value of the parameter "content" is not valid'
BAD_ACTION = 'The value of the parameter "action" is not valid'


def from_domain(error: DomainError) -> ApiError:
    """The HTTP error REDCap gives for a domain refusal: the one place kinds become statuses."""
    status = 403 if isinstance(error, NotPermitted) else 404 if isinstance(error, NotFound) else 400
    return ApiError(status, error.message)


def error_format(params: dict[str, str]) -> str:
    """returnFormat, else format; anything but json or csv means XML."""
    fmt = (params.get("returnFormat") or params.get("format") or "xml").strip().lower()
    return fmt if fmt in ("json", "csv") else "xml"


def error_response(error: ApiError, fmt: str) -> Response:
    body, content_type = render_error(error.message, fmt)
    headers = {**error.headers, "content-type": content_type}
    return Response(body, status_code=error.status, headers=headers)


def project_busy() -> ApiError:
    """The answer to a write whose lock wait ran out (nothing was written)."""
    return ApiError(503, PROJECT_BUSY, {"Retry-After": str(BUSY_RETRY_AFTER)})
