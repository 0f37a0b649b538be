"""Rate-limit counters in the database, so that every server process and machine sharing it
counts the same calls (a user gets the limit, not the limit times the number of workers).

Each bucket (``api:<user>``, ``code:<address>``...) is one row: the calls allowed in the
current minute and in the minute before. A call is allowed while the estimate of the calls
in the last 60 seconds, ``previous_calls * (share of the previous minute still inside the
window) + calls``, is below the limit (the sliding-window counter; exact within a minute,
an estimate across the boundary). One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
decides and counts at once, under the row's lock: two processes can never both take the
last call of a window.

The minute comes from the calling process's clock: machines sharing a database must keep
their clocks in step (NTP), as they would for anything time-stamped.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite

from localcap.db import schema as t

WINDOW_SECONDS = 60


def count_call(conn: Connection, bucket: str, per_minute: int, now: float) -> bool:
    """Count a call in ``bucket`` if it is within ``per_minute``; whether it was."""
    c = t.rate_limits.c
    minute = int(now // WINDOW_SECONDS)
    # The part of the previous minute the last 60 seconds still cover.
    weight = 1.0 - (now - minute * WINDOW_SECONDS) / WINDOW_SECONDS
    current: ColumnElement[int] = case((c.minute >= minute, c.calls), else_=0)
    previous: ColumnElement[int] = case(
        (c.minute >= minute, c.previous_calls), (c.minute == minute - 1, c.calls), else_=0
    )
    allowed = previous * literal(weight) + current < per_minute
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
    statement = (
        insert(t.rate_limits)
        .values(bucket=bucket, minute=minute, calls=1, previous_calls=0, allowed=True)
        .on_conflict_do_update(
            index_elements=[c.bucket],
            set_={
                "minute": minute,
                "previous_calls": previous,
                "calls": current + case((allowed, 1), else_=0),
                "allowed": allowed,
            },
        )
        .returning(c.allowed)
    )
    return bool(conn.execute(statement).scalar_one())


def purge(conn: Connection, now: float) -> int:
    """Delete the buckets whose windows are over (nothing counted in the last two minutes):
    they would count as empty anyway. How many."""
    stale = int(now // WINDOW_SECONDS) - 1
    return conn.execute(delete(t.rate_limits).where(t.rate_limits.c.minute < stale)).rowcount
