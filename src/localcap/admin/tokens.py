"""Minting a project token for an existing project user (``localcap token create`` does the
same from a shell): how a test suite gets a token for each user of a fresh project, since
REDCap's API has no method that hands out another user's token."""

from __future__ import annotations

from sqlalchemy import Engine, select

from localcap.admin.audit import log_admin
from localcap.db import schema as t
from localcap.db.tokens import create_project_token
from localcap.db.transactions import write_transaction
from localcap.model.errors import NotFound


def mint_project_tokens(
    engine: Engine, project_id: int, usernames: list[str], by: str
) -> dict[str, str]:
    """A new token for each of ``usernames`` (members of ``project_id``), replacing their
    earlier ones, in one transaction: either every user gets one or nobody does. ``by`` is who
    asked (written to the audit log, which never sees the tokens)."""
    with write_transaction(engine, project_id) as conn:
        members = set(
            conn.execute(
                select(t.project_users.c.username).where(t.project_users.c.project_id == project_id)
            ).scalars()
        )
        missing = [name for name in usernames if name not in members]
        if missing:
            raise NotFound(
                f"Not users of project {project_id}: {', '.join(missing)}. Add them first "
                "(content=user&action=import)."
            )
        tokens = {name: create_project_token(conn, project_id, name) for name in usernames}
        description = f"Create API tokens for users {', '.join(usernames)}"
        log_admin(conn, project_id, "tokens", description, by)
    return tokens
