"""Rate limits: REDCap's "maximum API requests per minute per user", and localcap's limits on
survey access-code tries and invalid-token calls per client address.

The counts live in the database (:mod:`localcap.db.ratelimits`), so every worker process and
every machine sharing the database enforces one limit: with N workers a user still gets the
limit, not N times it. Used by the API (``api/``) and the survey pages (``surveys/``).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from localcap.db import ratelimits
from localcap.db.transactions import counter_transaction

log = logging.getLogger("localcap")

#: How often (seconds) a limiter deletes the buckets whose windows are over.
PURGE_EVERY = 60.0


class RateLimiter:
    """At most ``per_minute`` calls per key in any 60 seconds (0: no limit); the keys of
    different limiters are kept apart by ``scope``."""

    def __init__(self, engine: Engine, per_minute: int, scope: str) -> None:
        self.engine = engine
        self.per_minute = per_minute
        self.scope = scope
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count a call; False when ``key`` already made ``per_minute`` in the last minute
        (the refused call is not counted)."""
        if self.per_minute <= 0:
            return True
        now = time.time() if now is None else now
        self._purge_now_and_then(now)
        with counter_transaction(self.engine) as conn:
            return ratelimits.count_call(conn, f"{self.scope}:{key}", self.per_minute, now)

    def _purge_now_and_then(self, now: float) -> None:
        """Delete finished windows once a minute (in a transaction of its own: a purge
        failing, e.g. two processes' purges deadlocking on PostgreSQL, costs nothing but a
        log line; the rows are deleted next time)."""
        with self._purge_lock:
            if now < self._next_purge:
                return
            self._next_purge = now + PURGE_EVERY
        try:
            with counter_transaction(self.engine) as conn:
                ratelimits.purge(conn, now)
        except DBAPIError as error:
            log.warning("rate-limit windows not purged: %s", error)


def address_bucket(host: str) -> str:
    """The bucket a client address counts in: an IPv4 address itself, an IPv6 address its
    /64 (one subscriber's whole network: handing out a fresh address per request is free
    there). Anything that is not an address (a test client, a Unix socket) counts as itself."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
