"""REDCap's EAV record format (``type=eav``): one row per stored value.

Export: for each stored row, in record order, one row per non-blank value the user may see:
``record``, ``redcap_event_name`` (longitudinal), ``redcap_repeat_instrument`` and
``redcap_repeat_instance`` (projects with repeating instruments or events), ``field_name``,
``value``. What REDCapR recorded from a real REDCap (``inst/test-data/specific-redcapr/
read-eav-oneshot``) fixes the shape: values in data-dictionary order, blanks left out, a
checkbox as one row per checked code (``race``/``3``, ``race``/``5``), a file field as its
document id, and ``<form>_complete`` only where a status is stored. Calculated fields come
after every other value of their row (``bmi`` after ``race_and_ethnicity_complete`` there):
REDCap lists values in the order it stored them, and it computes calcs after the rest. The same rights, DAG and
row rules as the flat export apply: the rows come from a :class:`FlatExport`'s plan.

Import: EAV rows are folded into flat rows, one per (record, event, repeat instrument,
instance), and checked exactly like a flat import. A checkbox row checks the option named by
its value (``race``/``3``); ``race___3``/``0`` or ``1`` also works.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from localcap.model.flat import FlatExport
from localcap.model.project import FORM_STATUS_LABELS, Project, checkbox_column
from localcap.model.rows import StoredRow

#: A row's keys in the flat world: the record, then the columns that place it.
PLACEMENT = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")


class EavExport:
    """The EAV rows of one export request, built on the flat export's column and row rules."""

    def __init__(self, flat: FlatExport) -> None:
        self.flat = flat
        project = flat.project
        self.header = ["record"]
        if project.is_longitudinal:
            self.header.append("redcap_event_name")
        if project.has_repeating:
            self.header += ["redcap_repeat_instrument", "redcap_repeat_instance"]
        self.header += ["field_name", "value"]
        self.rows_emitted = 0
        calcs = {f.field_name for f in project.fields if f.field_type == "calc"}
        #: the export's fields, calculated fields last (REDCap stores them after the rest)
        self._order = [n for n in flat.fields if n not in calcs] + [
            n for n in flat.fields if n in calcs
        ]

    def _placement(self, row: StoredRow) -> list[Any]:
        project, labels = self.flat.project, self.flat.options.labels
        cells: list[Any] = [row.record]
        if project.is_longitudinal:
            event = project.event_by_id.get(row.event_id)
            name = ""
            if event is not None:
                name = project.event_label(event) if labels else event.unique_event_name
            cells.append(name)
        if project.has_repeating:
            repeats = bool(row.repeat_instrument) or project.is_repeating_event(row.event_id)
            instrument = row.repeat_instrument
            if instrument and labels:
                instrument = project.form_by_name[instrument].form_label
            cells += [instrument, row.instance if repeats else ""]
        return cells

    def _values(self, row: StoredRow) -> Iterator[tuple[str, str]]:
        """(field_name, value) for each value on this row the export shows, in order."""
        flat, project = self.flat, self.flat.project
        labels, data = flat.options.labels, row.data
        valid = flat.valid_forms(row.event_id, row.repeat_instrument)
        record_field = project.record_id_field
        yield record_field, row.record
        if flat.with_dag and row.group_id:
            dag = project.dag_by_id.get(row.group_id)
            if dag is not None:
                yield "redcap_data_access_group", dag.group_name if labels else dag.unique_name
        for name in self._order:
            if project.form_of(name) not in valid:
                continue
            value = data.get(name)
            if not value:
                continue
            f = project.field_by_name.get(name)
            if f is None:  # <form>_complete
                yield name, FORM_STATUS_LABELS.get(value, value) if labels else value
            elif f.field_type == "checkbox":
                for code in f.choices:
                    if code in value:
                        yield name, f.choices[code] if labels else code
            elif labels and f.choices:
                yield name, f.choices.get(value, value)
            else:
                yield name, value

    def rows(self, stored: Iterable[StoredRow]) -> Iterator[list[Any]]:
        for row in stored:
            if not self.flat.has_relevant_data(row):
                continue
            placement = self._placement(row)
            for name, value in self._values(row):
                self.rows_emitted += 1
                yield [*placement, name, value]


def eav_to_flat(project: Project, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold EAV import rows into flat rows (one per record/event/instrument/instance), in the
    order each first appears. Rows without ``record`` or ``field_name`` are an error the
    caller reports."""
    record_field = project.record_id_field
    folded: dict[tuple[str, ...], dict[str, Any]] = {}
    for number, row in enumerate(rows, start=1):
        record = str(row.get("record", "") or "").strip()
        name = str(row.get("field_name", "") or "").strip()
        if not record or not name:
            raise ValueError(
                f"Row {number} of the EAV data lacks 'record' or 'field_name': every row "
                "needs record, field_name and value"
            )
        value = "" if row.get("value") is None else str(row["value"])
        place = tuple(str(row.get(key, "") or "") for key in PLACEMENT)
        target = folded.get((record, *place))
        if target is None:
            target = {record_field: record}
            target.update({k: v for k, v in zip(PLACEMENT, place, strict=True) if v})
            folded[(record, *place)] = target
        f = project.field_by_name.get(name)
        if f is not None and f.field_type == "checkbox":
            if value:
                target[checkbox_column(name, value)] = "1"
        elif name != record_field:
            target[name] = value
    return list(folded.values())
