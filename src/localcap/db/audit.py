"""The audit log: append-only rows, one per authenticated API call (never the token)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from localcap.db import schema as t

#: Parameters whose values are bulky or secret: only their size is kept (lower case). A
#: ``filterLogic`` is written in data values (``[name] = "Jane Doe"``), which readers of the
#: log with fewer export rights than its author must not see (docs/RIGHTS.md).
BULKY = frozenset({"data", "odm", "file", "filterlogic"})
DESIGN_CONTENTS = frozenset(
    {
        "metadata",
        "arm",
        "event",
        "formEventMapping",
        "repeatingFormsEvents",
        "project_settings",
        "report",
        "project",
    }
)
USER_CONTENTS = frozenset({"user", "userDagMapping", "dag", "userRole", "userRoleMapping"})
RECORD_CONTENTS = frozenset({"record", "file"})


def log_type(content: str, action: str) -> str:
    """REDCap's log types: export, manage, user, record_add/record_edit/record_delete."""
    if action in ("export", "list", "") or content in ("version", "log"):
        return "export"
    if content in RECORD_CONTENTS:
        return "record_delete" if action == "delete" else "record_edit"
    if content in USER_CONTENTS:
        return "user"
    return "manage"


@dataclass
class AuditEntry:
    username: str
    project_id: int | None
    content: str
    action: str
    params: dict[str, Any]
    records: list[str] = field(default_factory=list)
    report_id: int | None = None
    #: Called when the response is complete: how many rows an export sent.
    row_counter: Callable[[], int] | None = None
    status: int = 200
    log_type: str = ""
    description: str = ""

    @staticmethod
    def clean_params(params: dict[str, str], arrays: dict[str, list[str]]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        for key, value in params.items():
            if key == "token":
                continue
            cleaned[key] = f"<{len(value)} characters>" if key.lower() in BULKY else value[:500]
        for key, values in arrays.items():
            cleaned[key] = values[:100]
        return cleaned


def write_entry(conn: Connection, entry: AuditEntry) -> None:
    conn.execute(
        insert(t.audit_log).values(
            ts=datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            username=entry.username,
            project_id=entry.project_id,
            content=entry.content,
            action=entry.action,
            log_type=entry.log_type or log_type(entry.content, entry.action),
            params=orjson.dumps(entry.params).decode(),
            records=orjson.dumps(entry.records[:10000]).decode(),
            report_id=entry.report_id,
            row_count=entry.row_counter() if entry.row_counter else None,
            status=entry.status,
            description=entry.description,
        )
    )


@dataclass
class LogRow:
    ts: str
    username: str
    project_id: int | None
    content: str
    action: str
    log_type: str
    params: dict[str, Any]
    records: list[str]
    report_id: int | None
    row_count: int | None
    status: int
    description: str


def read_entries(
    conn: Connection,
    project_id: int | None = None,
    username: str | None = None,
    begin: str | None = None,
    end: str | None = None,
    newest_first: bool = True,
) -> Iterator[LogRow]:
    """Entries, optionally filtered (Export Logging lists them oldest first, as REDCap)."""
    c = t.audit_log.c
    query = select(t.audit_log).order_by(c.log_id.desc() if newest_first else c.log_id)
    if project_id is not None:
        query = query.where(c.project_id == project_id)
    if username:
        query = query.where(c.username == username)
    if begin:
        query = query.where(c.ts >= begin)
    if end:
        query = query.where(c.ts <= end)
    for r in conn.execute(query):
        yield LogRow(
            r.ts,
            r.username,
            r.project_id,
            r.content,
            r.action,
            r.log_type,
            orjson.loads(r.params),
            orjson.loads(r.records),
            r.report_id,
            r.row_count,
            r.status,
            r.description,
        )
