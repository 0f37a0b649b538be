"""What a method handler is given: the parsed request, the caller, the project and the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from localcap.api.errors import NO_EXPORT, NO_IMPORT, NO_PERMISSION, NO_USER_RIGHTS, ApiError
from localcap.api.request import ApiRequest
from localcap.db import transactions
from localcap.db.audit import AuditEntry
from localcap.db.projects import design_version, load_project
from localcap.model.project import Project
from localcap.model.rights import Rights, may_change_users
from localcap.state import AppState


@dataclass
class ApiContext:
    request: ApiRequest
    state: AppState
    username: str
    is_super: bool = False
    #: The token's project and the user's rights in it (None for a super token); read them
    #: through :attr:`project` and :attr:`rights`.
    project_loaded: Project | None = None
    rights_loaded: Rights | None = None
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
    def project(self) -> Project:
        """The token's project, as of this request (re-read in :meth:`write_transaction`)."""
        assert self.project_loaded is not None, "project token required"
        return self.project_loaded

    @property
    def rights(self) -> Rights:
        """The user's rights in the token's project."""
        assert self.rights_loaded is not None, "project token required"
        return self.rights_loaded

    @contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """The project's write transaction (:func:`localcap.db.transactions.write_transaction`:
        its lock is held before anything is read). If the design changed since this request
        loaded it, :attr:`project` is re-read, so what the handler checks against inside the
        transaction is the design its writes will land in."""
        pid = self.project.project_id
        with transactions.write_transaction(self.engine, pid) as conn:
            if design_version(conn, pid) != self.project.design_version:
                project = load_project(conn, pid)
                if project is None:  # deleted while the request waited for the lock
                    raise ApiError(403, NO_PERMISSION)
                self.project_loaded = project
            yield conn

    def read_snapshot(self) -> AbstractContextManager[Connection]:
        """A read-only transaction seeing one state of the database (exports)."""
        return transactions.read_snapshot(self.engine)

    def require(self, right: str, message: str) -> None:
        if not self.rights.flag(right):
            raise ApiError(403, message)

    def require_export(self) -> None:
        self.require("api_export", NO_EXPORT)

    def require_import(self) -> None:
        self.require("api_import", NO_IMPORT)

    def require_user_rights(self) -> None:
        """Changing users or roles: API Import and full User Rights (read-only User Rights
        may look but not change)."""
        self.require_import()
        if not may_change_users(self.rights):
            raise ApiError(403, NO_USER_RIGHTS)
