"""API tokens: minted here, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select

from localcap.db import schema as t

PROJECT_TOKEN = re.compile(r"^[0-9A-Fa-f]{32}$")
SUPER_TOKEN = re.compile(r"^[0-9A-Fa-f]{64}$")


@dataclass(frozen=True)
class TokenOwner:
    username: str
    project_id: int | None  # None: a super token

    @property
    def is_super(self) -> bool:
        return self.project_id is None


def _hash(token: str) -> str:
    # REDCap compares tokens case-insensitively (MySQL collation); we mint uppercase.
    return hashlib.sha256(token.upper().encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def create_project_token(conn: Connection, project_id: int, username: str) -> str:
    """A new 32-character uppercase hex token; replaces the user's old one for the project."""
    token = secrets.token_hex(16).upper()
    conn.execute(
        delete(t.tokens).where(t.tokens.c.project_id == project_id, t.tokens.c.username == username)
    )
    conn.execute(
        insert(t.tokens).values(
            token_hash=_hash(token), username=username, project_id=project_id, created_at=_now()
        )
    )
    return token


def create_super_token(conn: Connection, username: str) -> str:
    """A new 64-character super token (the user must be a super user)."""
    token = secrets.token_hex(32).upper()
    conn.execute(
        delete(t.tokens).where(t.tokens.c.project_id.is_(None), t.tokens.c.username == username)
    )
    conn.execute(
        insert(t.tokens).values(
            token_hash=_hash(token), username=username, project_id=None, created_at=_now()
        )
    )
    return token


def lookup_token(conn: Connection, token: str) -> TokenOwner | None:
    """Who a token belongs to; None for anything unknown or malformed."""
    token = token.strip()
    if not (PROJECT_TOKEN.match(token) or SUPER_TOKEN.match(token)):
        return None
    digest = _hash(token)
    row = conn.execute(
        select(t.tokens.c.token_hash, t.tokens.c.username, t.tokens.c.project_id).where(
            t.tokens.c.token_hash == digest
        )
    ).first()
    # The lookup is by a one-way hash (nothing an attacker can steer byte by byte); the final
    # comparison is constant-time all the same.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    is_super_shape = len(token) == 64
    if is_super_shape != (row.project_id is None):
        return None
    return TokenOwner(row.username, row.project_id)


def revoke_token(conn: Connection, token: str) -> bool:
    """Forget one token (project or super); True when it existed."""
    return bool(
        conn.execute(delete(t.tokens).where(t.tokens.c.token_hash == _hash(token))).rowcount
    )


def revoke_user_tokens(conn: Connection, username: str, project_id: int | None) -> int:
    """Forget a user's token for a project (or, with no project, all of the user's tokens)."""
    stmt = delete(t.tokens).where(t.tokens.c.username == username)
    if project_id is not None:
        stmt = stmt.where(t.tokens.c.project_id == project_id)
    return int(conn.execute(stmt).rowcount)
