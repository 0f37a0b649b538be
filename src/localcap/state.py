"""The server's long-lived state (database, file store, limits), shared by every request.

Both the API and the survey pages run on it, so it lives outside both (``api.context``
re-exports it for the API's handlers).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from localcap.db.projects import DesignCache
from localcap.ratelimit import RateLimiter

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
    #: This process's copies of project designs, checked against the database's design
    #: version on every use (correct across processes and machines).
    design_cache: DesignCache = field(default_factory=DesignCache, repr=False)
    #: Streamed answers (exports) in progress in this process (:meth:`streams_done`).
    open_streams: int = 0
    _file_store: FileStore | None = field(default=None, repr=False)
    _limiter: RateLimiter | None = field(default=None, repr=False)
    _code_limiter: RateLimiter | None = field(default=None, repr=False)
    _bad_token_limiter: RateLimiter | None = field(default=None, repr=False)
    _unauthenticated_log: RateLimiter | None = field(default=None, repr=False)
    _code_limiter_total: RateLimiter | None = field(default=None, repr=False)

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            self._limiter = RateLimiter(self.engine, self.rate_limit, "api")
        return self._limiter

    @property
    def code_limiter(self) -> RateLimiter:
        """Survey access-code attempts, per client address."""
        if self._code_limiter is None:
            self._code_limiter = RateLimiter(self.engine, self.survey_code_attempts, "code")
        return self._code_limiter

    @property
    def bad_token_limiter(self) -> RateLimiter:
        """Invalid-token calls, per client address."""
        if self._bad_token_limiter is None:
            self._bad_token_limiter = RateLimiter(
                self.engine, self.invalid_token_attempts, "bad-token"
            )
        return self._bad_token_limiter

    @property
    def unauthenticated_log(self) -> RateLimiter:
        """Entries nobody authenticated may cause (invalid-token calls, wrong survey access
        codes), per minute from all addresses together: many addresses cannot flood the
        audit log either (the calls beyond are answered, not logged)."""
        if self._unauthenticated_log is None:
            self._unauthenticated_log = RateLimiter(
                self.engine, 10 * self.invalid_token_attempts, "unauthenticated-log"
            )
        return self._unauthenticated_log

    @property
    def code_limiter_total(self) -> RateLimiter:
        """Survey access-code attempts from every address together (one bucket, ``*``)."""
        if self._code_limiter_total is None:
            self._code_limiter_total = RateLimiter(
                self.engine, self.survey_code_attempts_total, "code-total"
            )
        return self._code_limiter_total

    async def streams_done(self, seconds: float) -> None:
        """Wait (at most ``seconds``) until no streamed answer is in progress. At shutdown,
        after the server cancelled the requests still running, this gives them the turns of
        the event loop they need to log their end (audit entry, access log) before the
        process exits."""
        deadline = time.monotonic() + seconds
        while self.open_streams and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # the frames around a stream (the access log) finish too

    @property
    def file_store(self) -> FileStore:
        if self._file_store is None:
            from localcap.files.store import open_store

            self._file_store = open_store(self.file_store_url, self.data_dir)
        return self._file_store
