"""Import Records, the use case: write checked plans into stored rows, all or nothing.

The checks are the domain's (:class:`localcap.model.record_import.ImportChecker`); this
module writes what they accepted, in the caller's write transaction. Every path that saves
record data goes through it: the API's Import Records, a survey page's save, the clinical
data of a project XML and the demo's records.

A :class:`RecordWriter` takes the checked plans of one import batch after batch, all in one
transaction: today the API and the survey pages write one plan, the project XML importer one
per batch of subjects as its parser reaches them. A failure in any batch raises, and the
caller's transaction rolls every batch back. A streamed Import Records fits the same shape:
parse a bounded batch of rows, check it (:meth:`ImportChecker.check`), hand the plan to the
request's writer, and let the batch go; only the writer's :class:`ImportResult` grows with
the import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from localcap.db import records as store
from localcap.db.bulk import bulk_page_cache
from localcap.formats.streaming import DataRows
from localcap.model.audit import Change, row_writes
from localcap.model.calc import recalculate
from localcap.model.project import Project
from localcap.model.record_import import (
    AccessRefused,
    CreateNotPermitted,
    ImportChecker,
    ImportPlan,
    OtherGroupRecords,
    RecordImportError,
    apply_change,
    unknown_fields_message,
)
from localcap.model.rows import Layout, StoredRow

#: New records in one plan from which the import counts as bulk (statistics refreshed).
BULK_RECORDS = 500
#: A stored row's key: (record, event_id, repeat_instrument, repeat_instance).
RowKey = tuple[str, int, str, int]
#: A submitted row (:class:`localcap.formats.streaming.DataRows`).
Row = dict[str, Any] | list[str]


@dataclass(frozen=True)
class ImportOptions:
    """How the caller's import writes (REDCap's Import Records parameters and rights)."""

    #: The caller's DAG: it may only write that DAG's records, and new ones go into it.
    group_id: int | None = None
    #: ``overwriteBehavior=overwrite``: a blank value erases the stored one.
    overwrite: bool = False
    #: ``forceAutoNumber``: the submitted record names are replaced by the next free ones.
    auto_number: bool = False
    #: The Create Records right: without it a plan naming a new record is refused (403).
    may_create: bool = True
    #: Collect what changed, row by row, for the audit log (:attr:`ImportResult.changes`).
    audit: bool = False
    #: The audit log's source of the changes ("API"; "survey" for survey saves).
    log_source: str = "API"


@dataclass
class ImportResult:
    """What an import wrote."""

    records: list[str] = field(default_factory=list)  # written, each once, as they came
    id_map: dict[str, str] = field(default_factory=dict)  # submitted -> auto-numbered name
    changes: list[Change] = field(default_factory=list)  # filled when options.audit


class RecordWriter:
    """Writes checked plans, one after the other, in the caller's one write transaction.

    The calc fields of the records written are recomputed, as REDCap does after an import, a
    project XML import or a form/survey save (:mod:`localcap.model.calc`).
    """

    def __init__(self, conn: Connection, project: Project, options: ImportOptions) -> None:
        self.conn = conn
        self.project = project
        self.options = options
        self.result = ImportResult()
        self._written: set[str] = set()  # result.records, for a quick look-up
        self._next_number: int | None = None  # the next auto-numbered name, once known
        self._analyzed = False  # statistics refreshed for a bulk import

    def write(self, plan: ImportPlan) -> None:
        """Write one checked plan; raises AccessRefused (nothing of this plan written, the
        caller rolls back the others) when the caller may not write its records."""
        pid = self.project.project_id
        records = self._numbered(plan)
        existing = store.existing_records(self.conn, pid, records)
        refused = self._refusal(records, existing)
        if refused is not None:
            raise refused
        new = [r for r in records if r not in existing]
        self._create_and_regroup(plan, records, existing)
        if len(new) >= BULK_RECORDS and not self._analyzed:  # once, for a bulk import
            store.refresh_statistics(self.conn)
            self._analyzed = True
        # (a new record has no rows yet, and create_records stamped it: a bulk import of new
        # records neither reads nor re-stamps them)
        old = [r for r in records if r in existing]
        current = {(r.record, *r.key): r for r in store.load_rows(self.conn, pid, old)}
        before = {k: dict(row.data) for k, row in current.items()} if self.options.audit else {}
        created, changed = self._apply(plan, current)
        changed |= recalculate(self.project, current.values(), plan.changes)
        # rows of these records that the import did not name stay as they are
        stored = store.save_rows(
            self.conn, pid, [(current[key], key in created) for key in changed]
        )
        store.touch_records(self.conn, pid, old)
        if self.options.audit:
            self._log(records, changed, before, current, set(new), stored)
        self.result.records.extend(r for r in records if r not in self._written)
        self._written.update(records)

    def _numbered(self, plan: ImportPlan) -> list[str]:
        """The plan's records, renamed to the next free names under ``auto_number``."""
        records = list(plan.records)
        if not self.options.auto_number:
            return records
        # a record an earlier batch named already has its new name
        known = self.result.id_map
        fresh = [r for r in records if r not in known]
        if self._next_number is None:  # looked up once: every later name is the import's
            new_names = store.next_record_names(self.conn, self.project.project_id, len(fresh))
            self._next_number = int(new_names[0]) if new_names else None
        else:
            new_names = [str(self._next_number + i) for i in range(len(fresh))]
        if self._next_number is not None:
            self._next_number += len(fresh)
        id_map = {r: known[r] for r in records if r in known}
        id_map.update(zip(fresh, new_names, strict=True))
        for change in plan.changes:
            change.record = id_map[change.record]
        self.result.id_map.update(id_map)
        return [id_map[r] for r in records]

    def refusal(self, plan: ImportPlan) -> AccessRefused | None:
        """What :meth:`write` would refuse of this plan, writing nothing (a streamed import
        goes on reading after a refusal, to name every record refused)."""
        records = self._numbered(plan)
        return self._refusal(
            records, store.existing_records(self.conn, self.project.project_id, records)
        )

    def _refusal(self, records: list[str], existing: dict[str, int | None]) -> AccessRefused | None:
        """The records the caller may not write: a DAG user only its DAG's, a user without
        Create Records no new one."""
        group_id = self.options.group_id
        if group_id is not None:
            foreign = [r for r in records if r in existing and existing[r] != group_id]
            if foreign:
                return OtherGroupRecords(foreign)
        if not self.options.may_create:
            new = [r for r in records if r not in existing]
            if new:
                return CreateNotPermitted(new)
        return None

    def _create_and_regroup(
        self, plan: ImportPlan, records: list[str], existing: dict[str, int | None]
    ) -> None:
        """New records go into the caller's DAG, or the one their rows name; an existing
        record moves to the DAG its rows name (``redcap_data_access_group``, not for a DAG
        user)."""
        pid, group_id = self.project.project_id, self.options.group_id
        dag_by_name = self.project.dag_by_name
        dag_updates = {
            c.record: (dag_by_name[c.dag].group_id if c.dag else None)
            for c in plan.changes
            if c.dag is not None
        }
        store.create_records(
            self.conn,
            pid,
            [
                (record, group_id if group_id is not None else dag_updates.get(record))
                for record in records
                if record not in existing
            ],
        )
        if group_id is None:
            for record in records:
                if record in existing and record in dag_updates:
                    store.set_record_group(self.conn, pid, record, dag_updates[record])

    def _apply(
        self, plan: ImportPlan, current: dict[RowKey, StoredRow]
    ) -> tuple[set[RowKey], set[RowKey]]:
        """Merge the plan's changes into the loaded rows (``current``, new rows added);
        returns the keys of the rows created and of every row changed."""
        created: set[RowKey] = set()
        changed: set[RowKey] = set()
        for change in plan.changes:
            instance = change.instance
            if instance == "new":
                used = [
                    key[3]
                    for key in current
                    if key[:3] == (change.record, change.event_id, change.repeat_instrument)
                ]
                instance = max(used, default=0) + 1
            key = (change.record, change.event_id, change.repeat_instrument, int(instance))
            row = current.get(key)
            if row is None:
                row = current[key] = StoredRow(*key)
                created.add(key)
            apply_change(row, change, self.options.overwrite, self.project)
            changed.add(key)
        return created, changed

    def _log(
        self,
        records: list[str],
        changed: set[RowKey],
        before: dict[RowKey, dict],
        current: dict[RowKey, StoredRow],
        new: set[str],
        stored: tuple[Layout | None, dict[RowKey, str]],
    ) -> None:
        """What changed, record by record in the order imported, for the audit log
        (:func:`localcap.model.audit.row_writes`; ``stored``: what :func:`save_rows` stored
        packed, which a new row is logged as)."""
        order_of = {record: i for i, record in enumerate(records)}
        written_keys = sorted(changed, key=lambda k: (order_of.get(k[0], 0), k[1:]))
        self.result.changes.extend(
            row_writes(
                self.project,
                written_keys,
                before,
                {k: current[k].data for k in changed},
                new,
                self.options.log_source,
                stored,
            )
        )


def import_records(
    conn: Connection, project: Project, plans: Iterable[ImportPlan], options: ImportOptions
) -> ImportResult:
    """Write checked plans in the caller's write transaction (see :class:`RecordWriter`)."""
    writer = RecordWriter(conn, project, options)
    for plan in plans:
        writer.write(plan)
    return writer.result


#: Rows checked and written at a time by a streamed import (a batch ends between records).
BATCH_ROWS = 1_000


def record_batches(
    rows: Iterable[Row], record_of: Callable[[Row], object], size: int = BATCH_ROWS
) -> Iterator[list[Row]]:
    """The rows in batches of about ``size``, each cut where the record (``record_of`` a
    row) changes, so that the rows of one record (its events, its instances) are written
    together as a plan."""
    batch: list[Row] = []
    last: object = None
    for row in rows:
        record = record_of(row)
        if len(batch) >= size and record != last:
            yield batch
            batch = []
        batch.append(row)
        last = record
    if batch:
        yield batch


def import_stream(
    conn: Connection,
    project: Project,
    rows: DataRows,
    checker: ImportChecker,
    options: ImportOptions,
    log: Callable[[list[Change]], None] | None = None,
) -> tuple[ImportResult, int]:
    """Check and write rows as they are read, a batch at a time, in the caller's write
    transaction; returns what was written and how many rows were read.

    Memory stays flat whatever the number of rows: a batch is let go once written, and only
    the errors, the records' names and (given to ``log`` after each batch) the audit log's
    changes outlive it. All or nothing as a whole: once one problem is found nothing more
    is written, the rest is still checked so that every problem is listed, and the
    RecordImportError raised at the end makes the caller roll back what was written."""
    with bulk_page_cache(conn):
        return _write_batches(RecordWriter(conn, project, options), rows, checker, log)


def _write_batches(
    writer: RecordWriter,
    rows: DataRows,
    checker: ImportChecker,
    log: Callable[[list[Change]], None] | None,
) -> tuple[ImportResult, int]:
    """:func:`import_stream`'s loop: each batch checked, then written (or only checked once
    something failed)."""
    options = writer.options
    unknown: set[str] = set()
    refused: AccessRefused | None = None
    count = 0
    for batch in record_batches(rows, rows.value_getter(writer.project.record_id_field)):
        count += len(batch)
        columns = rows.columns
        unknown |= checker.unknown_fields(batch, columns)
        if unknown:
            continue  # the one error reported then (REDCap's): no value is worth checking
        plan = checker.plan(batch, options.group_id, columns)
        if checker.errors:
            continue
        if refused is not None:  # nothing more is written; every record refused is named
            refused = refused.joined(writer.refusal(plan))
            continue
        try:
            writer.write(plan)
        except AccessRefused as exc:
            refused = exc
            continue
        if log is not None:
            log(writer.result.changes)
            writer.result.changes = []
    if unknown:
        raise RecordImportError(unknown_fields_message(unknown))
    if checker.errors:  # (bad values first, as a whole-body import finds them first)
        raise RecordImportError("\n".join(checker.errors))
    if refused is not None:
        raise refused
    return writer.result, count
