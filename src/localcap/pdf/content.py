"""What an Export PDF prints: pages of instruments, and on each the fields and their values.

A :class:`Page` is one instrument, blank or for one (record, event, instance). What REDCap's
"Download PDF of instruments" does, and how localcap follows it (evidence: REDCap's API
documentation, the validation committee's feature tests ``D.115.100``-``D.115.700`` in
``vanderbilt-redcap/redcap_rsvc``, which run against real REDCap, and redcapAPI's tests):

* Blank: every instrument once (not once per event), or the one named by ``instrument``, or
  those designated for ``event``. An ``instrument`` with an ``event`` it is not designated
  for still prints (redcapAPI's recorded tests ask for exactly that and get a PDF).
* With data: for each record, each event holding data (or the one asked for), the event's
  instruments in order; a repeating instrument or event gives one page per instance that
  exists (instance 1 when none does), ``repeat_instance`` picks one.
* Compact display (``compactDisplay``, REDCap's "compact" PDF, "fields with data only"): only
  fields with a value are printed; descriptive fields and the form status go, and a section
  header goes with the field it stands above. The page of an instrument with no data still
  comes out, header only (feature test D.115.700 shows such pages). It has no effect on blank
  PDFs (nothing has a value).

Rights, the security boundary:

* **Form rights**: an instrument the user has "No Access" to is left out of every PDF. A
  form that has no entry in the user's form rights counts as no access, as Export Users
  reports it (``forms`` 0): new users get no form rights unless given.
* **Data export rights**: REDCap's API documentation says the user's privileges are applied
  to the PDF; REDCap's PDFs print ``[*DATA REMOVED*]`` for de-identified data (the phrase of
  REDCap's PDFs and alert piping, seen in public external modules that reuse REDCap's PDF
  code). localcap applies the same per-instrument export level as every other export
  (:func:`localcap.model.rights.removed_by_level`): a field the level removes prints
  ``[*DATA REMOVED*]`` in place of its value, choices unmarked. Under "No Access" for an
  instrument every value of it is removed. The record ID is never removed (it is in every
  export). In compact display a removed field is left out altogether, whether or not it has a
  value, so that not even the presence of a value shows.
* Data Access Groups are applied by the caller (only the DAG's records reach this module).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from localcap.model.project import (
    CLASSIC_EVENT_ID,
    FORM_STATUS_LABELS,
    Field,
    Form,
    Project,
    format_choices,
)
from localcap.model.rights import Rights, removed_by_level
from localcap.model.rows import StoredRow

REMOVED_TEXT = "[*DATA REMOVED*]"
FORM_STATUS_HEADER = "Form Status"
FORM_STATUS_LABEL = "Complete?"

_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


def plain_text(text: str) -> str:
    """A label as plain text: HTML tags dropped (line-breaking ones become line breaks),
    entities decoded (``&amp;`` -> ``&``), surrounding blank space trimmed."""
    text = _BREAK.sub("\n", text.replace("\r\n", "\n"))
    text = html.unescape(_TAG.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip()


@dataclass(frozen=True)
class Item:
    """One field on a page: checkbox values are the checked codes, others a string."""

    field: Field
    value: str | tuple[str, ...] = ""
    removed: bool = False

    @property
    def has_value(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Page:
    """One instrument; ``record`` "" for a blank page; ``instance`` 0 where nothing repeats."""

    form: Form
    items: list[Item]
    record: str = ""
    event_label: str = ""
    instance: int = 0


@dataclass(frozen=True)
class Selection:
    """What a record PDF covers: one event, one instrument, one instance, or all (None)."""

    event_id: int | None = None
    form: str | None = None
    instance: int | None = None


def viewable_forms(project: Project, rights: Rights) -> list[str]:
    """The instruments the user has any form access to (see the module docstring)."""
    return [f.form_name for f in project.forms if rights.forms.get(f.form_name, 0) != 0]


def status_field(form: Form) -> Field:
    """REDCap's ``<form>_complete`` as the PDF shows it: "Complete?" under "Form Status"."""
    return Field(
        field_name=form.complete_field,
        form_name=form.form_name,
        field_type="dropdown",
        field_label=FORM_STATUS_LABEL,
        section_header=FORM_STATUS_HEADER,
        select_choices_or_calculations=format_choices(FORM_STATUS_LABELS),
    )


class PageBuilder:
    """Turns a project, the user's rights and stored rows into pages."""

    def __init__(
        self,
        project: Project,
        rights: Rights,
        *,
        compact: bool = False,
        doc_names: Mapping[str, str] | None = None,
    ) -> None:
        self.project = project
        self.rights = rights
        self.compact = compact
        self.doc_names = doc_names or {}
        self.allowed = set(viewable_forms(project, rights))

    @cached_property
    def _layout(self) -> dict[str, list[Field]]:
        """Form -> every field printed on it, descriptive ones included, status last."""
        layout: dict[str, list[Field]] = {f.form_name: [] for f in self.project.forms}
        for f in self.project.fields:
            layout.setdefault(f.form_name, []).append(f)
        for form in self.project.forms:
            layout[form.form_name].append(status_field(form))
        return layout

    def forms(self, names: Iterable[str]) -> list[str]:
        """The given instruments the user may see, in the given order."""
        return [name for name in names if name in self.allowed]

    # -- blank ------------------------------------------------------------------------------
    def blank(self, forms: Iterable[str], event_label: str = "") -> Iterator[Page]:
        for name in self.forms(forms):
            form = self.project.form_by_name[name]
            items = [Item(f) for f in self._layout[name]]
            yield Page(form, items, event_label=event_label)

    # -- with data --------------------------------------------------------------------------
    def record(self, record: str, rows: list[StoredRow], selection: Selection) -> Iterator[Page]:
        """The pages of one record (``rows``: all its stored rows the selection may need)."""
        project = self.project
        data = {row.key: row.data for row in rows}
        if not project.is_longitudinal:
            events = [CLASSIC_EVENT_ID]
        elif selection.event_id is not None:
            events = [selection.event_id]
        else:
            with_data = {row.event_id for row in rows}
            events = [e for e in project.event_ids() if e in with_data]
        for event_id in events:
            event = project.event_by_id.get(event_id)
            label = project.event_label(event) if event is not None else ""
            names = [selection.form] if selection.form else project.forms_in_event(event_id)
            forms = self.forms(names)
            if project.is_repeating_event(event_id):
                for n in self._instances(rows, event_id, "", selection.instance):
                    for name in forms:
                        values = data.get((event_id, "", n), {})
                        yield self._page(name, record, label, n, values)
                continue
            for name in forms:
                if project.is_repeating_form(event_id, name):
                    for n in self._instances(rows, event_id, name, selection.instance):
                        values = data.get((event_id, name, n), {})
                        yield self._page(name, record, label, n, values)
                else:
                    values = data.get((event_id, "", 1), {})
                    yield self._page(name, record, label, 0, values)

    @staticmethod
    def _instances(
        rows: list[StoredRow], event_id: int, instrument: str, wanted: int | None
    ) -> list[int]:
        """The instances to print: the one asked for, else every stored one, else 1."""
        if wanted is not None:
            return [wanted]
        found = {r.instance for r in rows if r.key[:2] == (event_id, instrument)}
        return sorted(found) or [1]

    def _page(
        self, name: str, record: str, event_label: str, instance: int, values: Mapping
    ) -> Page:
        form = self.project.form_by_name[name]
        level = self.rights.export_level(name)
        record_id = self.project.record_id_field
        items: list[Item] = []
        for f in self._layout[name]:
            if f.field_name == record_id:
                item = Item(f, record)
            elif removed_by_level(f, level):
                item = Item(f, removed=True)
            else:
                item = Item(f, self._value(f, values.get(f.field_name)))
            if not self.compact or self._keep_compact(item):
                items.append(item)
        return Page(form, items, record, event_label, instance)

    @staticmethod
    def _keep_compact(item: Item) -> bool:
        f = item.field
        is_status = f.field_name == f"{f.form_name}_complete"
        if item.removed or is_status or f.field_type == "descriptive":
            return False
        return item.has_value

    def _value(self, f: Field, raw: object) -> str | tuple[str, ...]:
        if raw is None or raw == "":
            return ""
        if f.field_type == "checkbox":
            codes = raw if isinstance(raw, list) else [raw]
            return tuple(str(c) for c in codes)
        if f.field_type == "file":
            return self.doc_names.get(str(raw), str(raw))
        return str(raw)
