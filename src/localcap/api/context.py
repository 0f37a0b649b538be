"""What a method handler is given: the parsed request, the caller, the project and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from localcap.api.errors import NO_EXPORT, NO_IMPORT, ApiError
from localcap.api.ratelimit import RateLimiter
from localcap.api.request import ApiRequest
from localcap.db.audit import AuditEntry
from localcap.model.project import Project
from localcap.model.rights import Rights

if TYPE_CHECKING:
    from localcap.files.store import FileStore


@dataclass
class AppState:
    """Long-lived server state shared by every request."""

    engine: Engine
    data_dir: Path
    file_store_url: str | None = None
    #: Requests per minute per user (0: unlimited). REDCap's default is 600.
    rate_limit: int = 600
    #: Largest request body accepted, in bytes (0: unlimited); see server.DEFAULT_MAX_REQUEST_MB.
    max_body_bytes: int = 256 << 20
    #: The address participants reach this server at: survey links are
    #: ``<public_url>/surveys/?s=<hash>``. Empty: the address of the request's own server.
    public_url: str = ""
    #: Survey access codes a client address may try per minute (0: unlimited). An access
    #: code is about 45 bits: without a limit a script could try thousands a second.
    survey_code_attempts: int = 10
    _file_store: FileStore | None = field(default=None, repr=False)
    _limiter: RateLimiter | None = field(default=None, repr=False)
    _code_limiter: RateLimiter | None = field(default=None, repr=False)

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            self._limiter = RateLimiter(self.rate_limit)
        return self._limiter

    @property
    def code_limiter(self) -> RateLimiter:
        """Survey access-code attempts, per client address."""
        if self._code_limiter is None:
            self._code_limiter = RateLimiter(self.survey_code_attempts)
        return self._code_limiter

    @property
    def file_store(self) -> FileStore:
        if self._file_store is None:
            from localcap.files.store import open_store

            self._file_store = open_store(self.file_store_url, self.data_dir)
        return self._file_store


@dataclass
class ApiContext:
    request: ApiRequest
    state: AppState
    username: str
    is_super: bool = False
    project: Project | None = None
    rights: Rights | None = None
    group_id: int | None = None
    #: The user's role (REDCap User Roles), whose rights are already in ``rights``.
    role_id: int | None = None
    #: What the audit log will record of this call; handlers add records and row counts.
    audit: AuditEntry | None = None

    @property
    def engine(self) -> Engine:
        return self.state.engine

    @property
    def format(self) -> str:
        """The data format: REDCap's default is xml; unknown values are treated as xml."""
        fmt = self.request.get("format", "xml").strip().lower() or "xml"
        return fmt if fmt in ("json", "csv", "xml", "odm") else "xml"

    @property
    def proj(self) -> Project:
        assert self.project is not None, "project token required"
        return self.project

    @property
    def user_rights(self) -> Rights:
        assert self.rights is not None, "project token required"
        return self.rights

    def require(self, right: str, message: str) -> None:
        if not self.user_rights.flag(right):
            raise ApiError(403, message)

    def require_export(self) -> None:
        self.require("api_export", NO_EXPORT)

    def require_import(self) -> None:
        self.require("api_import", NO_IMPORT)
