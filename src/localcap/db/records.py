"""Record data: one stored row per (record, event, repeat instrument, instance).

Rows stream out in REDCap's order without loading a project: record names are read in
natural order in batches, and each batch's rows are fetched and ordered by event order,
then the non-repeating row before repeating instruments (in form order), then instance.

A row's ``data`` column is packed against the layout of the project's design when it was
written (model/rows.py; the layouts in ``row_layouts``), or a JSON object when the packed
form cannot hold it exactly (and for rows written before packing existed).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select, text, tuple_, update

from localcap.db import schema as t
from localcap.db.bulk import insert_rows
from localcap.model.project import Field, Project
from localcap.model.record_names import record_number
from localcap.model.rows import (
    PACKED_MARK,
    Layout,
    StoredRow,
    design_columns,
    layout_id,
    split_packed,
)

_DIGITS = re.compile(r"\d+")
BATCH_SIZE = 500


def has_breaks_or_quotes(json_text: str) -> bool:
    """JSON escapes CR, LF and quotes with a backslash: no backslash, nothing to clean (a
    one-character search is a memchr; the escape sequences are only looked for after it)."""
    if "\\" not in json_text:
        return False
    return "\\n" in json_text or "\\r" in json_text or '\\"' in json_text


def packed_has_breaks_or_quotes(text: str) -> bool:
    """A packed row holds its values as they are: three one-character searches (memchr)."""
    return "\n" in text or '"' in text or "\r" in text


class LayoutStore:
    """Layouts by id, as read or written by this process. A layout's id is a hash of its
    columns (model/rows.py), so a cached layout is right for every database, process and
    snapshot: nothing here ever goes stale. At most ``size`` layouts are kept (the oldest
    go first; read again when a row needs one), so that a server of many projects and design
    changes holds a bounded number."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._layouts: dict[str, Layout] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, project_id: int, lid: str) -> Layout:
        """The layout a stored row names (read from the database the first time)."""
        layout = self._layouts.get(lid)
        if layout is None:
            text = conn.execute(
                select(t.row_layouts.c.columns).where(
                    t.row_layouts.c.project_id == project_id, t.row_layouts.c.layout_id == lid
                )
            ).scalar_one()
            layout = self.remember(Layout.from_json(text))
        return layout

    def remember(self, layout: Layout) -> Layout:
        with self._lock:
            while len(self._layouts) >= self.size:
                del self._layouts[next(iter(self._layouts))]
            return self._layouts.setdefault(layout.layout_id, layout)

    def current(self, conn: Connection, project_id: int) -> Layout:
        """The layout of the project's design as this transaction sees it, stored in
        ``row_layouts`` if it was not yet (a writer calls this under the project's write
        lock; checked in the database every time, because a layout stored by a transaction
        that rolled back, or before a snapshot was restored, is not there any more)."""
        f = t.fields.c
        fields = [
            Field(r.field_name, r.form_name, r.field_type, "", select_choices_or_calculations=r.sc)
            for r in conn.execute(
                select(
                    f.field_name,
                    f.form_name,
                    f.field_type,
                    f.select_choices_or_calculations.label("sc"),
                )
                .where(f.project_id == project_id)
                .order_by(f.field_order)
            )
        ]
        forms = conn.execute(
            select(t.forms.c.form_name, t.forms.c.survey_enabled)
            .where(t.forms.c.project_id == project_id)
            .order_by(t.forms.c.form_order)
        ).all()
        surveys = {form for form, enabled in forms if enabled}
        columns = design_columns([form for form, _ in forms], fields, surveys)
        layout = self._layouts.get(layout_id(columns)) or self.remember(Layout(columns))
        stored = conn.execute(
            select(t.row_layouts.c.layout_id).where(
                t.row_layouts.c.project_id == project_id,
                t.row_layouts.c.layout_id == layout.layout_id,
            )
        ).first()
        if stored is None:
            conn.execute(
                insert(t.row_layouts).values(
                    project_id=project_id, layout_id=layout.layout_id, columns=layout.columns_json()
                )
            )
        return layout


#: The process's layouts (module-wide: immutable and valid for every database).
LAYOUTS = LayoutStore()


def encode_data(layout: Layout, data: dict[str, Any]) -> str:
    """A row's stored text: packed when the layout holds it exactly, else its JSON object."""
    packed = layout.encode(data)
    return packed if packed is not None else orjson.dumps(data).decode()


def read_row(
    conn: Connection,
    project_id: int,
    key: tuple[str, int, str, int],
    text: str,
    group_id: int | None = None,
) -> StoredRow:
    """The stored row of one (record, event, repeat instrument, instance) and its text."""
    record, event_id, instrument, instance = key
    if text[:1] == PACKED_MARK:
        cells = split_packed(text)
        layout = LAYOUTS.get(conn, project_id, cells[0][1:])
        return StoredRow.from_packed(
            record,
            event_id,
            instrument,
            instance,
            layout,
            cells,
            group_id,
            packed_has_breaks_or_quotes(text),
        )
    return StoredRow(
        record,
        event_id,
        instrument,
        instance,
        orjson.loads(text),
        group_id,
        has_breaks_or_quotes(text),
    )


def natural_sort_key(record: str) -> str:
    """Record names in natural order: numeric runs compare numerically (2 < 10, 12-2 < 12-10)."""
    if record.isdigit() and record.isascii():  # (most names: one run, without the regex)
        return record.lstrip("0").rjust(20, "0")[:255]
    return _DIGITS.sub(lambda m: m.group().lstrip("0").rjust(20, "0"), record)[:255]


def record_group(conn: Connection, project_id: int, record: str) -> tuple[bool, int | None]:
    """(exists, group_id) of one record."""
    row = conn.execute(
        select(t.records.c.group_id).where(
            t.records.c.project_id == project_id, t.records.c.record == record
        )
    ).first()
    return (row is not None, row.group_id if row is not None else None)


#: SQLite's index of the records' primary key (project_id, record).
_RECORDS_KEY = "sqlite_autoindex_records_1"
#: Records named in a list, looked up in the primary key on SQLite. Why: without statistics
#: SQLite guesses that ``project_id = ?`` matches about ten rows, and answers
#: ``project_id = ? AND record IN (...)`` by scanning the project's whole covering index
#: ``ix_records_group_order``: a bulk import asking this for every batch grew quadratic
#: (48-69 ms a statement at 230,000 records against 0.6 ms through the key).
_EXISTING_SQLITE = text(
    f"SELECT record, group_id FROM records INDEXED BY {_RECORDS_KEY} "
    "WHERE project_id = :project_id AND record IN :names"
).bindparams(bindparam("names", expanding=True))
_TOUCH_SQLITE = text(
    f"UPDATE records INDEXED BY {_RECORDS_KEY} SET updated_at = :stamp "
    "WHERE project_id = :project_id AND record IN :names"
).bindparams(bindparam("names", expanding=True))


def existing_records(conn: Connection, project_id: int, names: Collection[str]) -> dict[str, Any]:
    """Which of the given records exist, with their DAG."""
    found: dict[str, Any] = {}
    names = list(names)
    sqlite = conn.dialect.name == "sqlite"
    for start in range(0, len(names), BATCH_SIZE):
        chunk = names[start : start + BATCH_SIZE]
        query = (
            _EXISTING_SQLITE.bindparams(project_id=project_id, names=chunk)
            if sqlite
            else select(t.records.c.record, t.records.c.group_id).where(
                t.records.c.project_id == project_id, t.records.c.record.in_(chunk)
            )
        )
        for r in conn.execute(query):
            found[r.record] = r.group_id
    return found


def create_record(conn: Connection, project_id: int, record: str, group_id: int | None) -> None:
    conn.execute(
        insert(t.records).values(
            project_id=project_id,
            record=record,
            sort_key=natural_sort_key(record),
            group_id=group_id,
            updated_at=now(),
        )
    )


def create_records(
    conn: Connection, project_id: int, records: Sequence[tuple[str, int | None]]
) -> None:
    """Create many records (name, group_id) with one statement (a bulk import's new ones)."""
    if not records:
        return
    stamp = now()
    insert_rows(
        conn,
        t.records,
        [
            {
                "project_id": project_id,
                "record": record,
                "sort_key": natural_sort_key(record),
                "group_id": group_id,
                "updated_at": stamp,
            }
            for record, group_id in records
        ],
    )


def refresh_statistics(conn: Connection) -> None:
    """PostgreSQL: ANALYZE the records table. Why: the foreign-key check of every row written
    to record_data is planned once per connection; planned while a bulk import's first
    records were all the table held, it scans the table, and each later batch of a
    100,000-record import then scans a bigger one (quadratic). With fresh statistics it looks
    the record up in the primary key. (SQLite needs nothing.)"""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE records"))


def set_record_group(conn: Connection, project_id: int, record: str, group_id: int | None) -> None:
    conn.execute(
        update(t.records)
        .where(t.records.c.project_id == project_id, t.records.c.record == record)
        .values(group_id=group_id)
    )


def load_rows(conn: Connection, project_id: int, records: Sequence[str]) -> list[StoredRow]:
    rows: list[StoredRow] = []
    for start in range(0, len(records), BATCH_SIZE):
        chunk = list(records[start : start + BATCH_SIZE])
        rows.extend(
            read_row(
                conn, project_id, (r.record, r.event_id, r.repeat_instrument, r.instance), r.data
            )
            for r in conn.execute(
                select(t.record_data).where(
                    t.record_data.c.project_id == project_id, t.record_data.c.record.in_(chunk)
                )
            )
        )
    return rows


def now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def touch_records(conn: Connection, project_id: int, records: Sequence[str]) -> None:
    """Note that records changed (Export Records filters on it with dateRangeBegin/End).
    Every writer of record data calls this once per write, after its rows."""
    stamp = now()
    for start in range(0, len(records), BATCH_SIZE):
        chunk = list(records[start : start + BATCH_SIZE])
        if conn.dialect.name == "sqlite":  # (through the key: see _EXISTING_SQLITE)
            conn.execute(_TOUCH_SQLITE.bindparams(stamp=stamp, project_id=project_id, names=chunk))
            continue
        conn.execute(
            update(t.records)
            .where(t.records.c.project_id == project_id, t.records.c.record.in_(chunk))
            .values(updated_at=stamp)
        )


def save_row(conn: Connection, project_id: int, row: StoredRow, is_new: bool) -> None:
    """Write one row; a row left with no values is deleted (REDCap stores no empty rows)."""
    where = (
        t.record_data.c.project_id == project_id,
        t.record_data.c.record == row.record,
        t.record_data.c.event_id == row.event_id,
        t.record_data.c.repeat_instrument == row.repeat_instrument,
        t.record_data.c.instance == row.instance,
    )
    if not row.data:
        if not is_new:
            conn.execute(delete(t.record_data).where(*where))
        return
    payload = encode_data(LAYOUTS.current(conn, project_id), row.data)
    if is_new:
        conn.execute(
            insert(t.record_data).values(
                project_id=project_id,
                record=row.record,
                event_id=row.event_id,
                repeat_instrument=row.repeat_instrument,
                instance=row.instance,
                data=payload,
            )
        )
    else:
        conn.execute(update(t.record_data).where(*where).values(data=payload))


def save_rows(
    conn: Connection, project_id: int, rows: Sequence[tuple[StoredRow, bool]]
) -> tuple[Layout | None, dict[tuple[str, int, str, int], str]]:
    """:func:`save_row` for many (row, is_new) pairs: the new rows in one multi-row insert,
    the changed ones in one executemany update (a bulk import writes thousands at a time).
    Returns the layout and, by row key, the text of each row stored packed (the audit log
    logs a new row as it)."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    packed: dict[tuple[str, int, str, int], str] = {}
    layout = LAYOUTS.current(conn, project_id) if rows else None
    for row, is_new in rows:
        if not row.data:
            save_row(conn, project_id, row, is_new)  # deleted (rare: every value erased)
            continue
        text = encode_data(layout, row.data)  # type: ignore[arg-type]
        if text.startswith(PACKED_MARK):
            packed[(row.record, row.event_id, row.repeat_instrument, row.instance)] = text
        values = {
            "project_id": project_id,
            "record": row.record,
            "event_id": row.event_id,
            "repeat_instrument": row.repeat_instrument,
            "instance": row.instance,
            "data": text,
        }
        (inserts if is_new else updates).append(values)
    insert_rows(conn, t.record_data, inserts)
    if updates:
        c = t.record_data.c
        conn.execute(
            update(t.record_data)
            .where(
                c.project_id == bindparam("b_project_id"),
                c.record == bindparam("b_record"),
                c.event_id == bindparam("b_event_id"),
                c.repeat_instrument == bindparam("b_repeat_instrument"),
                c.instance == bindparam("b_instance"),
            )
            .values(data=bindparam("data")),
            [{("b_" + k if k != "data" else k): v for k, v in u.items()} for u in updates],
        )
    return layout, packed


def delete_records(conn: Connection, project_id: int, names: Sequence[str]) -> None:
    for start in range(0, len(names), BATCH_SIZE):
        chunk = list(names[start : start + BATCH_SIZE])
        conn.execute(
            delete(t.record_data).where(
                t.record_data.c.project_id == project_id, t.record_data.c.record.in_(chunk)
            )
        )
        conn.execute(
            delete(t.records).where(
                t.records.c.project_id == project_id, t.records.c.record.in_(chunk)
            )
        )


def iter_record_names(
    conn: Connection,
    project_id: int,
    records: Collection[str] | None = None,
    group_ids: Collection[int] | None = None,
    batch_size: int = BATCH_SIZE,
    changed: tuple[str, str] | None = None,
) -> Iterator[list[tuple[str, int | None]]]:
    """Batches of (record, group_id) in natural order, optionally restricted (keyset paging);
    ``changed`` keeps records created or changed after its first and before its second time
    (either may be "")."""
    last = None
    while True:
        stmt = (
            select(t.records.c.record, t.records.c.group_id, t.records.c.sort_key)
            .where(t.records.c.project_id == project_id)
            .order_by(t.records.c.sort_key, t.records.c.record)
            .limit(batch_size)
        )
        if records is not None:
            stmt = stmt.where(t.records.c.record.in_(list(records)))
        if group_ids is not None:
            stmt = stmt.where(t.records.c.group_id.in_(list(group_ids)))
        if changed is not None:
            begin, end = changed
            if begin:
                stmt = stmt.where(t.records.c.updated_at > begin)
            if end:
                stmt = stmt.where(t.records.c.updated_at < end)
        if last is not None:
            # A row-value comparison, so the (project_id, sort_key) index seeks straight to
            # the next page (an OR of two conditions made every page scan from the start).
            stmt = stmt.where(
                tuple_(t.records.c.sort_key, t.records.c.record) > tuple_(last[0], last[1])
            )
        batch = conn.execute(stmt).all()
        if not batch:
            return
        yield [(r.record, r.group_id) for r in batch]
        last = (batch[-1].sort_key, batch[-1].record)
        if len(batch) < batch_size:
            return


def iter_rows(
    conn: Connection,
    project: Project,
    records: Collection[str] | None = None,
    group_ids: Collection[int] | None = None,
    event_ids: Collection[int] | None = None,
    changed: tuple[str, str] | None = None,
) -> Iterator[StoredRow]:
    """Every stored row of the project in REDCap's export order, streaming."""
    event_order = project.event_order
    form_order = {f.form_name: i for i, f in enumerate(project.forms)}
    if records is not None and len(records) > BATCH_SIZE:
        # Large explicit lists: filter in Python instead of a huge IN clause per page.
        wanted = set(records)
        records = None
    else:
        wanted = None
    for batch in iter_record_names(conn, project.project_id, records, group_ids, changed=changed):
        if wanted is not None:
            batch = [b for b in batch if b[0] in wanted]
            if not batch:
                continue
        position = {name: i for i, (name, _) in enumerate(batch)}
        groups = dict(batch)
        c = t.record_data.c
        stmt = select(c.record, c.event_id, c.repeat_instrument, c.instance, c.data).where(
            t.record_data.c.project_id == project.project_id,
            t.record_data.c.record.in_(list(position)),
        )
        if event_ids is not None:
            stmt = stmt.where(t.record_data.c.event_id.in_(list(event_ids)))
        fetched = _read_page(conn, project.project_id, conn.execute(stmt).fetchall(), groups)
        fetched.sort(
            key=lambda row: (
                position[row.record],
                event_order.get(row.event_id, 0),
                form_order.get(row.repeat_instrument, -1) if row.repeat_instrument else -1,
                row.instance,
            )
        )
        yield from fetched


def _read_page(
    conn: Connection,
    project_id: int,
    page: Sequence[Any],
    groups: dict[str, int | None],
) -> list[StoredRow]:
    """:func:`read_row` for each (record, event, instrument, instance, text) of an export's
    page."""
    return [
        read_row(conn, project_id, (record, event_id, instrument, instance), text, groups[record])
        for record, event_id, instrument, instance, text in page
    ]


def next_record_names(conn: Connection, project_id: int, how_many: int) -> list[str]:
    """The next free numeric record names (max numeric id + 1, ...)."""
    numbers = (
        record_number(r.record)
        for r in conn.execute(
            select(t.records.c.record).where(t.records.c.project_id == project_id)
        )
    )
    start = max((n for n in numbers if n is not None), default=0) + 1
    return [str(n) for n in range(start, start + how_many)]


def record_names_with_prefix(conn: Connection, project_id: int, prefix: str) -> list[str]:
    return [
        r.record
        for r in conn.execute(
            select(t.records.c.record).where(
                t.records.c.project_id == project_id, t.records.c.record.startswith(prefix)
            )
        )
    ]


def rename_record(conn: Connection, project_id: int, old: str, new: str) -> None:
    """Give a record a new name, keeping its data and DAG (one transaction, the caller's)."""
    row = conn.execute(
        select(t.records.c.group_id).where(
            t.records.c.project_id == project_id, t.records.c.record == old
        )
    ).one()
    create_record(conn, project_id, new, row.group_id)
    conn.execute(
        update(t.record_data)
        .where(t.record_data.c.project_id == project_id, t.record_data.c.record == old)
        .values(record=new)
    )
    conn.execute(
        delete(t.records).where(t.records.c.project_id == project_id, t.records.c.record == old)
    )
