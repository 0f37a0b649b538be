"""The audit log: append-only rows, one per API call, survey action or CLI command.

Never a token: parameters named ``token`` in any spelling (``TOKEN``, ``token[0]``,
``token[]``, repeated) are dropped, and their values are blanked wherever else they appear.
Every stored string is bounded, so one request cannot write megabytes of log.
See docs/AUDIT.md.
"""

from __future__ import annotations

import getpass
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from localcap.db import schema as t
from localcap.db.bulk import insert_rows
from localcap.model.audit import TOKEN_SHAPE, Change, PackedRowValues, bounded, call_log_type
from localcap.model.rows import Layout

#: Parameters whose values are bulky or secret: only their size is kept (the "what" of an
#: import is logged as its changes, not as the request). A ``filterLogic`` is written in data
#: values (``[name] = "Jane Doe"``), which readers of the log with fewer export rights than its
#: author must not see (docs/RIGHTS.md).
BULKY = frozenset({"data", "odm", "file", "filterlogic"})
#: How much of a request is kept: parameters, characters of a name, of a value, array items.
MAX_PARAMS = 40
MAX_NAME = 64
MAX_PARAM_VALUE = 300
MAX_ARRAY_ITEMS = 20
#: Record names kept per entry, and characters of each.
MAX_RECORDS = 10_000
MAX_RECORD_NAME = 200
#: Changes kept per entry (an import of more records logs the first ones and a count).
MAX_CHANGES = 100_000
REDACTED = "[redacted]"
_ARRAY_SUFFIX = re.compile(r"(\[[^\]]*\])+$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_token_name(name: str) -> bool:
    """``token`` in any spelling a client (or an attacker) may use: any case, surrounding
    spaces, array suffixes (``token[0]``, ``token[]``)."""
    return _ARRAY_SUFFIX.sub("", name.strip()).strip().lower() == "token"


def token_values(params: dict[str, str], arrays: dict[str, list[str]]) -> list[str]:
    """Every value given under a token-like name (valid or not): what must never be logged."""
    values = [v for k, v in params.items() if is_token_name(k)]
    for k, items in arrays.items():
        if is_token_name(k):
            values.extend(items)
    return [v for v in {v.strip() for v in values} if v]


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` (a string, or lists/dicts of them) with every secret blanked out."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    return value


def clean_params(
    params: dict[str, str], arrays: dict[str, list[str]], sizes: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """What is kept of a request: no token, bulky values as sizes, everything bounded.
    ``sizes``: the lengths of the big bodies kept out of ``params`` (api.request.TextBody)."""
    cleaned: dict[str, Any] = {
        bounded(key, MAX_NAME): f"<{size} characters>" for key, size in (sizes or {}).items()
    }
    names = [k for k in params if not is_token_name(k)] + [
        k for k in arrays if not is_token_name(k)
    ]
    for key in names[:MAX_PARAMS]:
        name = bounded(key, MAX_NAME)
        bulky = _ARRAY_SUFFIX.sub("", key.strip()).lower() in BULKY
        if key in arrays:
            items = arrays[key]
            if bulky:
                cleaned[name] = f"<{len(items)} values, {sum(map(len, items))} characters>"
            else:
                kept = [bounded(v, MAX_PARAM_VALUE) for v in items[:MAX_ARRAY_ITEMS]]
                if len(items) > MAX_ARRAY_ITEMS:
                    kept.append(f"... ({len(items)} values)")
                cleaned[name] = kept
        elif key in params:
            value = params[key]
            cleaned[name] = (
                f"<{len(value)} characters>" if bulky else bounded(value, MAX_PARAM_VALUE)
            )
    if len(names) > MAX_PARAMS:
        cleaned["..."] = f"{len(names)} parameters"
    return _blank_token_shapes(redact(cleaned, token_values(params, arrays)))


def _blank_token_shapes(value: Any) -> Any:
    """A request's values with anything shaped like a token blanked (a token pasted into
    another parameter is still a token)."""
    if isinstance(value, str):
        return TOKEN_SHAPE.sub(REDACTED, value)
    if isinstance(value, list):
        return [_blank_token_shapes(v) for v in value]
    if isinstance(value, dict):
        return {_blank_token_shapes(k): _blank_token_shapes(v) for k, v in value.items()}
    return value


#: Changes an entry keeps in memory before it moves them to disk (:class:`ChangeSpool`).
CHANGES_IN_MEMORY = 1_000
#: Changes stored per row of ``audit_changes`` (as one JSON list), and rows per statement.
CHANGES_PER_ROW = 500
ROWS_PER_INSERT = 20
# Every row but an entry's last holds CHANGES_PER_ROW changes: the rows kept end exactly at
# MAX_CHANGES (_write_changes).
assert MAX_CHANGES % CHANGES_PER_ROW == 0


def encoded_change(change: Change) -> bytes:
    """A change's stored form as JSON (a text no database can store becomes storable)."""
    try:
        return orjson.dumps(change.as_json())
    except orjson.JSONEncodeError:  # a lone surrogate
        return orjson.dumps(storable(change.as_json()))


def joined_changes(changes: Sequence[Change]) -> bytes:
    """Changes as one row of ``audit_changes`` holds them: the JSON list of their
    :func:`encoded_change`, or, when some log a packed row (:class:`PackedRowValues`),
    ``{"layouts": {id: columns}, "changes": [...]}``, the row then naming the layouts it needs
    (redacted when stored: :func:`_stored_change`)."""
    listed = b"[" + b",".join(map(encoded_change, changes)) + b"]"
    layouts = {
        values.layout.layout_id: values.layout
        for values in (change.values for change in changes)
        if values.__class__ is PackedRowValues
    }
    if not layouts:
        return listed
    named = b",".join(
        orjson.dumps(lid) + b":" + layout.columns_json().encode() for lid, layout in layouts.items()
    )
    return b'{"layouts":{' + named + b'},"changes":' + listed + b"}"


def _stored_change(encoded: bytes, secrets: list[str]) -> str:
    """The JSON of a change (or a row of them) as stored: with no secret and no NUL in it, the encoded text as
    it is (the usual case, and much faster); else the value redacted and made storable."""
    text = encoded.decode()
    if "\\u0000" not in text and not any(
        secret in text or not _JSON_VERBATIM.fullmatch(secret) for secret in secrets
    ):
        return text
    return _json(orjson.loads(encoded), secrets)


#: A secret that JSON writes as it is (so that looking for it in JSON text finds it).
_JSON_VERBATIM = re.compile(r'[^"\\\x00-\x1f\x7f]*')


class ChangeSpool:
    """Rows of changes as ``audit_changes`` stores them (:func:`joined_changes`: one JSON
    list of :data:`CHANGES_PER_ROW` changes a line) in a temporary file: what an import of
    100,000 records logs, without holding it in memory, and written out without being taken
    apart and joined again."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by write_entry

    def add(self, changes: Sequence[Change]) -> None:
        """Spool :data:`CHANGES_PER_ROW` changes as one row."""
        self.file.write(joined_changes(changes))
        self.file.write(b"\n")

    def __iter__(self) -> Iterator[bytes]:
        self.file.seek(0)
        for line in self.file:
            yield line[:-1]

    def close(self) -> None:
        self.file.close()


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
    #: What happened, in REDCap's words (e.g. "Create project (API)").
    description: str = ""
    #: What changed: one :class:`Change` per record (or user, role...) written.
    changes: list[Change] = field(default_factory=list)
    #: The changes of a long write, moved to disk as they came (:meth:`add_changes`).
    spooled: ChangeSpool | None = None
    #: The client's address (API calls and survey pages).
    client: str = ""
    #: Values that must not be stored anywhere in the entry (the tokens the request carried).
    secrets: list[str] = field(default_factory=list, repr=False)

    def add_changes(self, changes: Iterable[Change]) -> None:
        """Log a write's changes as it makes them, batch by batch: beyond
        :data:`CHANGES_IN_MEMORY` they are kept on disk, so a long import's log does not
        grow in memory with the import."""
        self.changes.extend(changes)
        if len(self.changes) >= CHANGES_IN_MEMORY:
            if self.spooled is None:
                self.spooled = ChangeSpool()
            whole = len(self.changes) - len(self.changes) % CHANGES_PER_ROW
            for start in range(0, whole, CHANGES_PER_ROW):
                self.spooled.add(self.changes[start : start + CHANGES_PER_ROW])
            del self.changes[:whole]

    def change_rows(self) -> Iterator[tuple[int, bytes]]:
        """(how many, their :func:`joined_changes`) of every row of changes, in order: the
        spooled rows, then those in memory; all but the last hold :data:`CHANGES_PER_ROW`."""
        if self.spooled is not None:
            for row in self.spooled:
                yield CHANGES_PER_ROW, row
        for start in range(0, len(self.changes), CHANGES_PER_ROW):
            chunk = self.changes[start : start + CHANGES_PER_ROW]
            yield len(chunk), joined_changes(chunk)

    @staticmethod
    def clean_params(
        params: dict[str, str], arrays: dict[str, list[str]], sizes: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        return clean_params(params, arrays, sizes)


def storable(value: Any) -> Any:
    """``value`` (strings, or lists/dicts of them) as every backend stores it: a NUL
    (PostgreSQL refuses it in text) or a lone surrogate (not UTF-8) becomes U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    return value


def _json(value: Any, secrets: list[str]) -> str:
    return orjson.dumps(storable(redact(value, secrets))).decode()


def write_entry(conn: Connection, entry: AuditEntry) -> None:
    """Write one entry and its changes (at most :data:`MAX_CHANGES`, then a count of the
    rest), the changes a batch at a time from memory or from the entry's spool."""
    secrets = entry.secrets
    records = [bounded(r, MAX_RECORD_NAME) for r in entry.records[:MAX_RECORDS]]
    try:
        log_id = conn.execute(
            insert(t.audit_log).values(
                ts=datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                # (cut to the columns' widths: a PostgreSQL VARCHAR refuses a longer value)
                username=storable(entry.username[:255]),
                project_id=entry.project_id,
                content=storable(entry.content[:50]),
                action=storable(entry.action[:50]),
                log_type=entry.log_type or call_log_type(entry.content, entry.action),
                params=_json(entry.params, secrets),
                records=_json(records, secrets),
                report_id=entry.report_id,
                row_count=entry.row_counter() if entry.row_counter else None,
                status=entry.status,
                description=storable(redact(bounded(entry.description, 2000), secrets)),
                client=storable(entry.client[:64]),
            )
        ).inserted_primary_key[0]
        _write_changes(conn, log_id, entry)
    finally:
        if entry.spooled is not None:
            entry.spooled.close()
            entry.spooled = None


def _write_changes(conn: Connection, log_id: int, entry: AuditEntry) -> None:
    """The entry's changes, :data:`CHANGES_PER_ROW` to a row (``seq``: the first one's
    position): an import of 100,000 records logs 200 rows, not 100,000."""
    rows: list[dict[str, Any]] = []
    kept = left_out = 0
    for count, joined in entry.change_rows():
        if kept == MAX_CHANGES:
            left_out += count
            continue
        stored = _stored_change(joined, entry.secrets)
        rows.append({"log_id": log_id, "seq": kept, "change": stored})
        kept += count
        if len(rows) == ROWS_PER_INSERT:
            insert_rows(conn, t.audit_changes, rows)
            rows = []
    if left_out:
        item = ["Manage/Design ", "", f"{left_out} more changes"]
        rows.append({"log_id": log_id, "seq": MAX_CHANGES, "change": _json(item, [])})
    insert_rows(conn, t.audit_changes, rows)


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
    changes: list[Change]
    client: str


#: Rows a server-side cursor fetches at a time (:func:`read_entries`).
STREAM_ROWS = 1000
#: Entries whose changes are read with one query (a bound parameter each: within SQLite's
#: oldest limit of 999).
CHANGES_PAGE = 500


def read_entries(
    conn: Connection,
    project_id: int | None = None,
    username: str | None = None,
    begin: str | None = None,
    end: str | None = None,
    newest_first: bool = True,
    field_order: Callable[[int | None], Mapping[str, int] | None] | None = None,
) -> Iterator[LogRow]:
    """Entries, optionally filtered (Export Logging lists them oldest first, as REDCap).
    ``field_order``: a project's field order (:func:`localcap.model.audit.field_order`), in
    which the values of new rows are listed (:meth:`Change.from_json`)."""
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
    # A server-side cursor on PostgreSQL (psycopg otherwise fetches the whole result at
    # once): the log grows with every call, and a reader may want only its first lines.
    # The entries' changes are read a page of entries at a time (one query per page).
    result = conn.execute(query.execution_options(yield_per=STREAM_ROWS))
    for page in result.partitions(CHANGES_PAGE):
        orders = {r.log_id: field_order(r.project_id) for r in page} if field_order else {}
        changes = _changes_of(conn, [r.log_id for r in page], orders)
        for r in page:
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
                changes.get(r.log_id, []),
                r.client or "",
            )


def _changes_of(
    conn: Connection, log_ids: list[int], orders: Mapping[int, Mapping[str, int] | None]
) -> dict[int, list[Change]]:
    """The changes of these entries, in the order they were made, by entry."""
    c = t.audit_changes.c
    found: dict[int, list[Change]] = {}
    query = select(c.log_id, c.change).where(c.log_id.in_(log_ids)).order_by(c.log_id, c.seq)
    for log_id, stored in conn.execute(query):
        item = orjson.loads(stored)
        changes = found.setdefault(log_id, [])
        order = orders.get(log_id)
        if isinstance(item, dict):  # a row of changes with the layouts of its packed rows
            layouts = {lid: Layout(columns) for lid, columns in item["layouts"].items()}
            changes.extend(Change.from_json(one, order, layouts) for one in item["changes"])
        elif item and isinstance(item[0], list):  # a row of changes (a change starts with text)
            changes.extend(Change.from_json(one, order) for one in item)
        else:
            changes.append(Change.from_json(item, order))
    return found


#: Who the audit log names for what the survey pages do (REDCap's own wording).
SURVEY_RESPONDENT = "[survey respondent]"


def log_survey_event(
    conn: Connection,
    project_id: int | None,
    description: str,
    *,
    record: str | None = None,
    client: str = "",
) -> None:
    """A survey page event that is not a save: a return code accepted or refused, an access
    code used (REDCap logs these as the survey respondent)."""
    write_entry(
        conn,
        AuditEntry(
            SURVEY_RESPONDENT,
            project_id,
            "survey",
            "page",
            {},
            records=[record] if record else [],
            log_type="manage",
            description=description,
            client=client,
        ),
    )


def command_user() -> str:
    """Who the audit log names for a ``localcap`` command: the operating-system account."""
    try:
        account = getpass.getuser()
    except Exception:  # noqa: BLE001 - no account name (e.g. an unnamed container uid)
        account = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"[command line: {account}]"


def log_command(
    conn: Connection,
    project_id: int | None,
    command: str,
    description: str,
    changes: list[Change] | None = None,
) -> None:
    """A ``localcap`` command that changes who may do what (tokens, surveys, DAG Switcher,
    imports): logged like an API call, as Manage/Design in the project's Logging."""
    write_entry(
        conn,
        AuditEntry(
            command_user(),
            project_id,
            "cli",
            command,
            {},
            log_type="manage",
            description=description,
            changes=changes or [],
        ),
    )
