"""Server secrets: random keys generated once and kept in the database, so that every worker
process and every server sharing the database uses the same one (survey form tokens signed by
one worker are checked by another)."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from localcap.db import schema as t


def server_secret(conn: Connection, name: str) -> bytes:
    """The secret called ``name`` (32 random bytes, made on first use; when two processes
    race to make it, the one stored first wins and both use it)."""
    c = t.server_secrets.c
    query = select(c.value).where(c.name == name)
    value = conn.execute(query).scalar()
    if value is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(t.server_secrets).values(name=name, value=secrets.token_hex(32))
                )
        except IntegrityError:
            pass
        value = conn.execute(query).scalar_one()
    return bytes.fromhex(value)
