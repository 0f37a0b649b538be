"""The audit log's entry for an administration action: whoever asked (the super user of an
admin endpoint call, or the operating-system account of a command), in the log's Manage
category, the description printed safely."""

from __future__ import annotations

from sqlalchemy import Connection

from localcap.db.audit import AuditEntry, write_entry
from localcap.model.audit import bounded, printable


def log_admin(
    conn: Connection, project_id: int | None, action: str, description: str, by: str
) -> None:
    write_entry(
        conn,
        AuditEntry(
            by,
            project_id,
            "admin",
            action,
            {},
            log_type="manage",
            description=printable(bounded(description, 1000)),
        ),
    )
