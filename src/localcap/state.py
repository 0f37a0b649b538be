"""The server's long-lived state (database, file store, limits), shared by every request.

Both the API and the survey pages run on it, so it lives outside both (``api.context``
re-exports it for the API's handlers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from localcap.api.ratelimit import RateLimiter

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
    #: Calls with an invalid token a client address may make per minute (0: unlimited); more
    #: get a 429 and are not logged one by one. Each logged one is an audit row.
    invalid_token_attempts: int = 60
    #: Survey access codes tried per minute from all addresses together (0: unlimited): the
    #: ceiling for someone spreading guesses over many addresses.
    survey_code_attempts_total: int = 100
    #: Whether ``POST /admin/`` (tokens, snapshots, reset; super token) is served.
    admin_api: bool = False
    _file_store: FileStore | None = field(default=None, repr=False)
    _limiter: RateLimiter | None = field(default=None, repr=False)
    _code_limiter: RateLimiter | None = field(default=None, repr=False)
    _bad_token_limiter: RateLimiter | None = field(default=None, repr=False)
    _unauthenticated_log: RateLimiter | None = field(default=None, repr=False)
    _code_limiter_total: RateLimiter | None = field(default=None, repr=False)

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
    def bad_token_limiter(self) -> RateLimiter:
        """Invalid-token calls, per client address."""
        if self._bad_token_limiter is None:
            self._bad_token_limiter = RateLimiter(self.invalid_token_attempts)
        return self._bad_token_limiter

    @property
    def unauthenticated_log(self) -> RateLimiter:
        """Entries nobody authenticated may cause (invalid-token calls, wrong survey access
        codes), per minute from all addresses together: many addresses cannot flood the
        audit log either (the calls beyond are answered, not logged)."""
        if self._unauthenticated_log is None:
            self._unauthenticated_log = RateLimiter(10 * self.invalid_token_attempts)
        return self._unauthenticated_log

    @property
    def code_limiter_total(self) -> RateLimiter:
        """Survey access-code attempts from every address together (one bucket, ``*``)."""
        if self._code_limiter_total is None:
            self._code_limiter_total = RateLimiter(self.survey_code_attempts_total)
        return self._code_limiter_total

    @property
    def file_store(self) -> FileStore:
        if self._file_store is None:
            from localcap.files.store import open_store

            self._file_store = open_store(self.file_store_url, self.data_dir)
        return self._file_store
