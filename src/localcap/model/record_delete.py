"""Delete Records' rules: what a delete removes, as a plan the storage layer carries out.

A delete names records and, optionally, narrows itself (REDCap's API documentation; PyCap's
``delete_records``, REDCapR's ``redcap_delete``):

* ``arm`` (longitudinal projects): the records are deleted from that arm only. A record holding
  rows in other arms keeps them (REDCapR recorded records deleted from arm 2 still in arms 1
  and 3); a record that holds no rows in the arm does not exist there.
* ``event``, ``instrument``, ``repeat_instance``: only those values are erased (a partial
  delete); rows left empty are removed, survey responses of an erased form status forgotten.

Every record named must exist and, for a caller in a Data Access Group, be in that group:
otherwise nothing is deleted and the error lists them (another group's record reads exactly
like a missing one). Deleted file values take their documents with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localcap.model.audit import Change, printable, row_writes
from localcap.model.errors import DomainError
from localcap.model.project import Project
from localcap.model.rows import StoredRow

RowKey = tuple[str, int, str, int]


@dataclass(frozen=True)
class DeleteRequest:
    """A checked Delete Records request (see :func:`delete_request`)."""

    records: list[str]
    event_id: int | None = None
    instrument: str = ""
    #: ``repeat_instance`` as given ("" for every instance): compared with the stored text.
    instance: str = ""
    arm: str = ""
    #: The events of ``arm`` (None without an arm, or in a classic project).
    arm_events: frozenset[int] | None = None

    @property
    def whole(self) -> bool:
        """Whole records go (else only the named event's/instrument's/instance's values)."""
        return self.event_id is None and not self.instrument and not self.instance


@dataclass(frozen=True)
class RowUpdate:
    """A stored row left with fewer values (empty: it is removed), and the forms whose status
    was erased (their survey responses are forgotten)."""

    row: StoredRow
    forms: frozenset[str]


@dataclass
class DeletePlan:
    """What a delete changes: the storage layer applies it in the request's transaction."""

    request: DeleteRequest
    #: Rows to write back with the erased values removed.
    updates: list[RowUpdate] = field(default_factory=list)
    #: File field values (doc ids) whose documents are deleted.
    documents: list[str] = field(default_factory=list)
    #: Records removed entirely, and records changed but kept.
    gone: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    #: The values erased, by row (what the audit log records of a partial delete).
    erased: dict[RowKey, dict[str, Any]] = field(default_factory=dict)
    #: Delete Records' answer: how many records were deleted (0 when a partial delete
    #: matched nothing).
    count: int = 0

    def changes(self, project: Project) -> list[Change]:
        """The audit log's record of the delete. A whole record deleted from one arm is still
        REDCap's "Delete record": redcapAPI's changedRecords() finds the records its
        purgeProject() deleted arm by arm there."""
        request = self.request
        if not request.whole:
            return row_writes(project, list(self.erased), self.erased, {}, set())
        id_field = project.record_id_field
        where = f"[arm = {request.arm}] " if request.arm_events is not None else ""
        return [
            Change("Delete record (API)", r, f"{where}{id_field} = '{printable(r)}'")
            for r in request.records
        ]


def delete_request(
    project: Project,
    records: list[str],
    event_name: str = "",
    instrument: str = "",
    instance: str = "",
    arm: str = "",
) -> DeleteRequest:
    """Check the parameters against the design (as of the write lock: the event, form or arm
    may be new or gone), in REDCap's order: event, instrument, arm."""
    if event_name and event_name not in project.event_by_name:
        raise DomainError(f"The event '{event_name}' is not valid")
    if instrument and instrument not in project.form_by_name:
        raise DomainError(f"The instrument '{instrument}' is not valid")
    arm_events = None
    if arm and project.is_longitudinal:
        if not arm.isdigit() or int(arm) not in project.arm_by_num:
            raise DomainError(f"The arm number '{arm}' is not valid")
        arm_events = frozenset(e.event_id for e in project.events if e.arm_num == int(arm))
    event_id = project.event_by_name[event_name].event_id if event_name else None
    return DeleteRequest(records, event_id, instrument, instance, arm, arm_events)


def plan_delete(
    project: Project,
    request: DeleteRequest,
    rows: list[StoredRow],
    existing: dict[str, int | None],
    group_id: int | None,
) -> DeletePlan:
    """The plan for ``request`` given the records' stored ``rows`` and ``existing``
    (record -> its DAG) as of the write lock; ``group_id`` is the caller's DAG."""
    _check_records(request, rows, existing, group_id)
    plan = DeletePlan(request)
    file_fields = {f.field_name for f in project.fields if f.field_type == "file"}
    partial = not request.whole or request.arm_events is not None
    kept: set[str] = set()  # records keeping rows in other arms
    deleted = 0
    for row in rows:
        if request.arm_events is not None and row.event_id not in request.arm_events:
            kept.add(row.record)
            continue
        names = _erased_names(project, request, row)
        if not names:
            continue
        plan.documents += [row.data[n] for n in names if n in file_fields and row.data[n]]
        plan.erased[(row.record, *row.key)] = {n: row.data[n] for n in names}
        if partial:  # a row left empty is deleted
            data = {n: v for n, v in row.data.items() if n not in names}
            forms = frozenset(n.removesuffix("_complete") for n in names if n.endswith("_complete"))
            plan.updates.append(RowUpdate(row.with_data(data), forms))
        deleted += 1
    if request.whole:  # a record is gone when no arm holds its rows any more
        plan.gone = [r for r in request.records if r not in kept]
        plan.touched = [r for r in request.records if r in kept]
        plan.count = len(request.records)
    else:
        plan.touched = list(request.records)
        plan.count = len(request.records) if deleted else 0
    return plan


def _check_records(
    request: DeleteRequest,
    rows: list[StoredRow],
    existing: dict[str, int | None],
    group_id: int | None,
) -> None:
    """Every record must exist (in the arm, when one is named) and be the caller's DAG's."""
    if request.arm_events is not None:  # a record exists in an arm where it holds rows
        in_arm = {row.record for row in rows if row.event_id in request.arm_events}
        existing = {r: g for r, g in existing.items() if r in in_arm}
    missing = [r for r in request.records if r not in existing]
    if group_id is not None:
        missing += [r for r in request.records if r in existing and existing[r] != group_id]
    if missing:
        raise DomainError(
            "One or more of the records provided cannot be deleted because they do not "
            "exist in the project. The following records do not exist: " + ", ".join(missing)
        )


def _erased_names(project: Project, request: DeleteRequest, row: StoredRow) -> list[str]:
    """The values of ``row`` the request erases (none for a row it does not cover)."""
    if request.event_id is not None and row.event_id != request.event_id:
        return []
    if request.instance and str(row.instance) != request.instance:
        return []
    return [
        n for n in row.data if not request.instrument or project.form_of(n) == request.instrument
    ]
