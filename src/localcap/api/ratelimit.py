"""Per-user API rate limiting, like REDCap's "maximum API requests per minute per user".

A sliding one-minute window per user, in memory: each worker process limits on its own
(with N workers a user can make up to N times the limit), which is what a single-machine
server needs; nothing here is shared between machines.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, username: str, now: float | None = None) -> bool:
        """Record a call; False when the user already made ``per_minute`` in the last minute."""
        if self.per_minute <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            calls = self._calls.setdefault(username, deque())
            while calls and now - calls[0] >= WINDOW_SECONDS:
                calls.popleft()
            if len(calls) >= self.per_minute:
                return False
            calls.append(now)
            return True


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
