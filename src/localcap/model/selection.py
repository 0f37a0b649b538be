"""What an export reads and shows: one object shared by Export Records (flat and EAV), Export
Reports, Export PDF and Export Project XML.

REDCap's exporters answer the same questions about the caller's request: which fields (in
which order), which records, events and Data Access Groups, which rows a filter keeps, what
the caller's export rights remove, and how values are shaped (labels, headers, line breaks).
The API layer builds an :class:`ExportSelection` from the request in one place
(``api.methods.common.export_selection``; a report applies its definition on top with
:func:`localcap.reports.export.plan_report`); the storage layer reads the rows it names
(``actions.export.stored_rows``); the domain filters and shapes them.

The rules that protect data live here too: an export needs some export right at all
(:func:`require_export_access`), and a filter the caller writes may only read fields the
caller may export (:func:`user_filter`, docs/RIGHTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from localcap.logic import CompiledLogic
from localcap.model.errors import DomainError, NotPermitted
from localcap.model.filtering import FilterError, compile_filter, filter_rows, unexportable_fields
from localcap.model.flat import FlatExport, FlatOptions
from localcap.model.project import Field, Project
from localcap.model.rights import (
    DEIDENTIFIED,
    NO_ACCESS,
    REMOVE_IDENTIFIERS,
    Rights,
    has_any_export_access,
)
from localcap.model.rows import StoredRow

#: REDCap's refusal of an export to a user with "No Access" export rights on every instrument.
NO_ACCESS_EXPORT = (
    'The API request cannot complete because currently you have "No Access" data export '
    "rights. Higher level data export rights are required for this operation."
)
#: A filter the caller writes may only read fields the caller may export (docs/RIGHTS.md).
HIDDEN_FILTER_FIELDS = (
    "The filterLogic cannot be used because it refers to fields that your data export rights "
    "do not allow you to export: {fields}. A filter may only use fields you can export."
)

#: Export File of an identifier under an export level that removes identifiers.
IDENTIFIER_EXPORT = (
    "The API request cannot complete because the field '{field}' is tagged as an identifier "
    'and you have "{level}" data export rights for the instrument \'{form}\'. "Full Data Set" '
    "export rights are required to export this file."
)
LEVEL_NAMES = {DEIDENTIFIED: "De-Identified", REMOVE_IDENTIFIERS: "Remove All Identifier Fields"}


@dataclass
class ExportSelection:
    """The rows and columns of one export, for one caller.

    ``group_id`` is the caller's own DAG: a user in a DAG only ever reads that DAG's records.
    ``group_ids`` is a narrower DAG filter (a report's, already intersected with the caller's
    DAG, possibly empty); None means "the caller's DAG, or every DAG"."""

    project: Project
    rights: Rights
    username: str
    group_id: int | None
    #: The fields shown, in output order; None: every field in dictionary order.
    fields: list[str] | None = None
    records: list[str] | None = None
    event_ids: list[int] | None = None
    group_ids: list[int] | None = None
    #: dateRangeBegin/End: records created or modified between the two (either may be "").
    changed: tuple[str, str] | None = None
    logic: CompiledLogic | None = None
    #: A report's "record" filter type: every row of a record any row of which matches.
    whole_record: bool = False
    #: Labels or raw values, label headers, checkbox labels, DAG and survey columns, decimal
    #: character, line-break removal... (the defaults are REDCap's).
    options: FlatOptions = field(default_factory=FlatOptions)

    @property
    def field_order(self) -> list[str]:
        """The fields shown, resolved: every exportable field when none were named."""
        if self.fields is None:
            return list(self.project.iter_export_fields())
        return self.fields

    @property
    def read_group_ids(self) -> list[int] | None:
        """The DAGs whose records are read (None: every record)."""
        if self.group_ids is not None:
            return self.group_ids
        return [self.group_id] if self.group_id is not None else None

    @property
    def user_dag(self) -> str:
        """The caller's DAG's unique name (``[user-dag-name]`` in logic), "" for none."""
        dag = self.project.dag_by_id.get(self.group_id) if self.group_id else None
        return dag.unique_name if dag else ""

    def filtered(self, stored: Iterable[StoredRow]) -> Iterable[StoredRow]:
        """The stored rows the selection's logic keeps (all of them without logic)."""
        if self.logic is None:
            return stored
        return filter_rows(
            self.project,
            stored,
            self.logic,
            user=self.username,
            user_dag=self.user_dag,
            whole_record=self.whole_record,
        )

    def flat_export(self) -> FlatExport:
        """The columns and cells of a flat export of this selection (rights applied)."""
        return FlatExport(self.project, self.rights, self.group_id, self.field_order, self.options)


def require_export_access(project: Project, rights: Rights) -> None:
    """Refuse (403) a user whose export rights are "No Access" on every instrument: every
    data export opens with this check, before anything is read."""
    if not has_any_export_access(project, rights):
        raise NotPermitted(NO_ACCESS_EXPORT)


def require_file_export(rights: Rights, field: Field) -> None:
    """Export File's rule for one file field (403s): No Access always fails; De-Identified
    and Remove All Identifier Fields fail only for identifier-tagged fields; Full Data Set
    always passes."""
    level = rights.export_level(field.form_name)
    if level == NO_ACCESS:
        raise NotPermitted(NO_ACCESS_EXPORT)
    if level in LEVEL_NAMES and field.is_identifier:
        raise NotPermitted(
            IDENTIFIER_EXPORT.format(
                field=field.field_name, level=LEVEL_NAMES[level], form=field.form_name
            )
        )


def user_filter(project: Project, rights: Rights, expression: str) -> CompiledLogic | None:
    """The caller's own ``filterLogic`` (Export Records, Export Project XML), compiled; None
    for none.

    Logic that reads a field the caller's export rights remove is refused (400, naming the
    fields), before any data is read: evaluating it would let the caller bisect hidden values
    (``[dob] <= "1941-12-09"``), and treating the field as blank would silently give wrong
    rows. The answer depends on the expression and the rights only (docs/RIGHTS.md)."""
    if not expression:
        return None
    try:
        logic = compile_filter(project, expression)
    except FilterError as exc:
        raise FilterError(f"The filterLogic is not valid: {exc}") from None
    hidden = unexportable_fields(project, rights, logic.fields_referenced)
    if hidden:
        raise DomainError(HIDDEN_FILTER_FIELDS.format(fields=", ".join(hidden)))
    return logic
