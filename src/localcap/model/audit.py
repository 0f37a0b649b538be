"""What the audit log says, in the words of REDCap's Logging page (no HTTP, no database).

REDCap's Export Logging (``content=log``) returns ``timestamp, username, action, details,
record``. Its recordings in the clients' test suites (REDCapR ``inst/test-data/specific-redcapr/
log-read/``, redcapAPI ``tests/testthat/test-08-logging.R``, PyCap's ``export_logging`` doctest)
show the vocabulary this module reproduces: record changes are ``Create record (API) 7`` /
``Update record (API) 7`` / ``Delete record (API) 7`` with ``field = 'value'`` details; data
exports are ``Data export (API)`` with ``export_format: CSV, rawOrLabel: raw``; everything else
is ``Manage/Design`` with a description such as ``Export instruments (API)``; user rights
changes are ``Add user u`` / ``Edit user u`` / ``Edit user role`` with ``role = 'api'``.
See docs/AUDIT.md for the whole model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from localcap.model.rows import CELL_SEPARATOR, Layout, split_packed

if TYPE_CHECKING:
    from localcap.model.project import Project

#: Characters of one value kept in ``details`` (longer ones are cut, their length given).
MAX_VALUE = 1000
#: Characters of one entry's ``details``.
MAX_DETAILS = 20_000
#: REDCap's action for everything that is neither a data export nor a record change; its
#: Export Logging spells it with a trailing space (PyCap's doctest, recorded from REDCap).
MANAGE = "Manage/Design "
DATA_EXPORT = "Data export (API)"
#: What Export Logging shows instead of a value its reader may not export.
HIDDEN = "[hidden]"

#: The shape of every localcap token (32 or 64 hex digits): any run of 32 or more hex digits
#: is blanked wherever a request's parameters carry one, whatever the parameter is called
#: (a run, so that a token glued to other digits is caught too).
TOKEN_SHAPE = re.compile(r"[0-9A-Fa-f]{32,}")

#: Log types Export Logging's ``logtype`` filters on (REDCap's list).
LOG_TYPES = (
    "export",
    "manage",
    "user",
    "record",
    "record_add",
    "record_edit",
    "record_delete",
    "lock_record",
    "page_view",
)

#: (content, action) -> what REDCap's Logging says the call did. Exports of record data are
#: ``Data export (API)`` (see :data:`DATA_EXPORTS`); record changes are described per record.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("arm", "delete"): "Delete arms (API)",
    ("arm", "export"): "Export arms (API)",
    ("arm", "import"): "Import arms (API)",
    ("dag", "delete"): "Delete data access groups (API)",
    ("dag", "export"): "Export DAGs (API)",
    ("dag", "import"): "Import data access groups (API)",
    ("dag", "switch"): "Switch data access group (API)",
    ("event", "delete"): "Delete events (API)",
    ("event", "export"): "Export events (API)",
    ("event", "import"): "Import events (API)",
    ("exportFieldNames", "export"): "Export list of export field names (API)",
    ("file", "delete"): "Delete file (API)",
    ("file", "export"): "Download file (API)",
    ("file", "import"): "Upload file (API)",
    ("fileRepository", "createFolder"): "Create folder in File Repository (API)",
    ("fileRepository", "delete"): "Delete file from File Repository (API)",
    ("fileRepository", "export"): "Download file from File Repository (API)",
    ("fileRepository", "import"): "Upload file to File Repository (API)",
    ("fileRepository", "list"): "List files in File Repository (API)",
    ("formEventMapping", "export"): "Export instrument-event mappings (API)",
    ("formEventMapping", "import"): "Import instrument-event mappings (API)",
    ("generateNextRecordName", "export"): "Generate next record name (API)",
    ("instrument", "export"): "Export instruments (API)",
    ("log", "export"): "Export Logging (API)",
    ("metadata", "export"): "Download data dictionary (API)",
    ("metadata", "import"): "Upload data dictionary (API)",
    ("participantList", "export"): "Export survey participant list (API)",
    ("pdf", "export"): "Download PDF (API)",
    ("project", "export"): "Export project information (API)",
    ("project", "import"): "Create project (API)",
    ("project_settings", "import"): "Import project information (API)",
    ("project_xml", "export"): "Export project XML (API)",
    ("record", "delete"): "Delete records (API)",
    ("record", "export"): DATA_EXPORT,
    ("record", "import"): "Import records (API)",
    ("record", "rename"): "Rename record (API)",
    ("repeatingFormsEvents", "export"): "Export repeating instruments and events (API)",
    ("repeatingFormsEvents", "import"): "Import repeating instruments and events (API)",
    ("report", "export"): DATA_EXPORT,
    ("report", "import"): "Import report definitions (API)",
    ("report", "list"): "List report definitions (API)",
    ("surveyAccessCode", "export"): "Export survey access code (API)",
    ("surveyLink", "export"): "Export survey link (API)",
    ("surveyQueueLink", "export"): "Export survey queue link (API)",
    ("surveyReturnCode", "export"): "Export survey return code (API)",
    ("user", "delete"): "Delete users (API)",
    ("user", "export"): "Export users (API)",
    ("user", "import"): "Import users (API)",
    ("userDagMapping", "export"): "Export user-DAG assignments (API)",
    ("userDagMapping", "import"): "Import user-DAG assignments (API)",
    ("userRole", "delete"): "Delete user roles (API)",
    ("userRole", "export"): "Export user roles (API)",
    ("userRole", "import"): "Import user roles (API)",
    ("userRoleMapping", "export"): "Export user-role assignments (API)",
    ("userRoleMapping", "import"): "Import user-role assignments (API)",
    ("version", "export"): "Export REDCap version (API)",
}
#: Calls that send record data out: REDCap's ``Data export (API)``, logtype ``export``.
DATA_EXPORTS = frozenset({("record", "export"), ("report", "export")})
#: Calls that change users and their rights: logtype ``user``.
USER_CHANGES = frozenset(
    {
        ("user", "import"),
        ("user", "delete"),
        ("userRole", "import"),
        ("userRole", "delete"),
        ("userRoleMapping", "import"),
        ("userDagMapping", "import"),
        ("dag", "switch"),
    }
)
#: Calls whose changes are record changes (logged per record: record_add/edit/delete).
RECORD_CHANGES = frozenset(
    {
        ("record", "import"),
        ("record", "delete"),
        ("record", "rename"),
        ("file", "import"),
        ("file", "delete"),
    }
)


def describe_call(content: str, action: str) -> str:
    """REDCap's words for an API call; an unknown pair (never registered) says so plainly."""
    return DESCRIPTIONS.get((content, action or "export"), "Unknown API call")


def call_log_type(content: str, action: str) -> str:
    """The log type of a call's own entry (record changes are typed per change)."""
    key = (content, action or "export")
    if key in DATA_EXPORTS:
        return "export"
    if key in USER_CHANGES:
        return "user"
    if key in RECORD_CHANGES:
        return "record"
    return "manage"


def change_log_type(action: str) -> str:
    """The log type of one change, from its action's words."""
    if action.startswith(("Create record", "Create survey response")):
        return "record_add"
    if action.startswith(("Update record", "Update survey response")):
        return "record_edit"
    if action.startswith("Delete record"):
        return "record_delete"
    if "user" in action.lower():
        return "user"
    return "manage"


def matches_log_type(row_type: str, wanted: str) -> bool:
    """Export Logging's ``logtype`` filter: ``record`` is every record change."""
    if not wanted:
        return True
    if wanted == "record":
        return row_type.startswith("record")
    return row_type == wanted


#: The characters :func:`printable` escapes (one search tells most values need nothing).
_UNPRINTABLE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with every control character (and backslash) escaped, so a logged value
    can never start a line or a column of its own in a log printed as text."""
    if not _UNPRINTABLE.search(text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def bounded(text: str, limit: int = MAX_VALUE) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def shown_value(value: Any) -> str:
    """One value as the details show it: printable and bounded (with room for the length
    note of a value bounded when it was stored, so it is not cut twice)."""
    return printable(bounded(str(value), MAX_VALUE + 40))


def assignments(pairs: Iterable[tuple[str, Any]]) -> str:
    """REDCap's ``name = 'value', name2 = 'value2'`` (a checkbox option: ``race(2) =
    checked``, unquoted; field names cannot hold parentheses), bounded."""
    return bounded(", ".join(_assignment(name, value) for name, value in pairs), MAX_DETAILS)


@lru_cache(maxsize=4096)
def _shown_name(name: str) -> str:
    """A field name as the details show it (the same few names again and again)."""
    return printable(bounded(name, 200))


def _assignment(name: str, value: Any) -> str:
    shown = _shown_name(name)
    if value is HIDDEN or (shown.endswith(")") and value in ("checked", "unchecked")):
        return f"{shown} = {value}"
    return f"{shown} = '{shown_value(value)}'"


#: What separates the cells of a packed row in the audit log: JSON would write the stored
#: separator (a control character) as six characters, this one as it is.
LOGGED_CELL_SEPARATOR = "\x7f"


@dataclass(frozen=True, slots=True)
class PackedRowValues:
    """The values of a row written where there was none, as the row store packed them
    (:meth:`localcap.model.rows.Layout.encode`): the import logs the text it stored, with no
    step per value, and the values are unpacked only when the log is read. ``id_field``: the
    record ID field, logged with the record's name for the first row of a new record."""

    layout: Layout
    packed: str
    id_field: str | None = None

    def as_json(self) -> dict[str, str]:
        return {
            "@row": self.packed.replace(CELL_SEPARATOR, LOGGED_CELL_SEPARATOR),
            "@id": self.id_field or "",
        }

    def data(self, record: str) -> dict[str, Any]:
        """The row's values (the record's name under ``id_field``, if any)."""
        data = self.layout.decode(split_packed(self.packed))
        if self.id_field:
            data[self.id_field] = record
        return data

    @staticmethod
    def loggable(packed: str) -> bool:
        """Whether a packed row can be logged so (no value holds the logged separator)."""
        return LOGGED_CELL_SEPARATOR not in packed

    @staticmethod
    def from_json(stored: Mapping[str, str], layouts: Mapping[str, Layout]) -> PackedRowValues:
        """The logged form read back (``layouts``: by id, as the log's row of changes lists
        them)."""
        packed = stored["@row"].replace(LOGGED_CELL_SEPARATOR, CELL_SEPARATOR)
        lid = packed[1 : packed.index(CELL_SEPARATOR)]
        return PackedRowValues(layouts[lid], packed, stored.get("@id") or None)


@dataclass(slots=True)
class Change:
    """One line of REDCap's Logging: what was done (``action``, e.g. ``Create record
    (API)``), to which record (or ""), and the ``details`` (``field = 'value'``, ...).

    A record change also keeps its ``values`` and ``prefix`` (event, instance), so that
    Export Logging can hide the values a caller may not export. Its ``details`` are made
    from them only when read back (:meth:`from_json`, :meth:`details_for`): an import of
    100,000 records would otherwise build 100,000 long strings that are never stored.
    ``values`` are (field, value) pairs, or, for a row written where there was none (most
    rows of a big import), the row's values themselves (a checkbox: its checked codes),
    turned into pairs in field order only when read (:func:`new_row_pairs`): the row is
    then logged without a Python step per value; a bulk import gives them as the packed
    text it stored (:class:`PackedRowValues`). (So such details list the fields in the
    project's order as of the reading: a field moved later is listed where it is now.)"""

    action: str
    record: str = ""
    details: str = ""
    values: tuple[tuple[str, str], ...] | dict[str, Any] | PackedRowValues = ()
    prefix: str = ""

    def as_json(self) -> list[Any]:
        """Stored form; a record change keeps its values only (the details are made from
        them when read, which halves what an import writes)."""
        if not self.values:
            return [self.action, self.record, self.details]
        values = self.values
        if isinstance(values, PackedRowValues):
            stored: Any = values.as_json()
        else:
            stored = values if isinstance(values, dict) else [list(v) for v in values]
        return [self.action, self.record, "", stored, self.prefix]

    @staticmethod
    def from_json(
        item: Sequence[Any],
        order: Mapping[str, int] | None = None,
        layouts: Mapping[str, Layout] | None = None,
    ) -> Change:
        """A stored change; ``order``: the project's field order (:func:`field_order`), in
        which a new row's values are listed (None: as stored); ``layouts``: those of the
        packed rows among the changes stored with it (:class:`PackedRowValues`)."""
        if len(item) <= 3:
            return Change(str(item[0]), str(item[1]), str(item[2]))
        stored = item[3]
        if isinstance(stored, dict) and "@row" in stored:
            stored = PackedRowValues.from_json(stored, layouts or {}).data(str(item[1]))
        pairs = new_row_pairs(stored, order) if isinstance(stored, dict) else stored
        values = tuple((str(n), str(v)) for n, v in pairs)
        prefix = str(item[4])
        details = bounded(prefix + assignments(values), MAX_DETAILS)
        return Change(str(item[0]), str(item[1]), details, values, prefix)

    def details_for(self, allowed: set[str] | None) -> str:
        """The details as a reader with these exportable fields may see them (None: all):
        the value of a field outside ``allowed`` is shown as ``[hidden]``."""
        if not self.values:
            return self.details
        values = self.values
        if isinstance(values, PackedRowValues):
            values = values.data(self.record)
        pairs = new_row_pairs(values) if isinstance(values, dict) else values
        shown = [
            (name, value if allowed is None or name.split("(")[0] in allowed else HIDDEN)
            for name, value in pairs
        ]
        return bounded(self.prefix + assignments(shown), MAX_DETAILS)


def field_order(project: Project) -> dict[str, int]:
    """Field name -> its position: the order in which details list a row's values."""
    return {f.field_name: i for i, f in enumerate(project.fields)}


def new_row_pairs(
    values: Mapping[str, Any], order: Mapping[str, int] | None = None
) -> list[tuple[str, str]]:
    """The details' pairs of a row written where there was none: every value (bounded), a
    checkbox as one ``field(code) = checked`` per checked option; in the order
    :func:`row_assignments` gives when ``order`` is known (the record ID first, then field
    order, then the other names, the instruments' statuses among them, by name)."""
    if order is not None:
        known = [name for name in values if name in order]
        names = sorted(known, key=order.__getitem__) + sorted(values.keys() - set(known))
        values = {name: values[name] for name in names}
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if isinstance(value, list):
            pairs.extend((f"{name}({code})", "checked") for code in value)
        else:
            pairs.append((name, bounded(value)))
    return pairs


def row_assignments(
    before: Mapping[str, Any], after: Mapping[str, Any], order: Mapping[str, int]
) -> list[tuple[str, str]]:
    """The values that differ between a stored row before and after a write, in field order
    (``order``: :func:`field_order`): ``field = 'value'``, an erased value as ``''``, a
    checkbox as ``field(code) = checked``. (A row written where there was none is logged
    with its values as they are: :func:`new_row_pairs`.)"""
    changed = set(before) | set(after)
    known = changed & order.keys()
    names = sorted(known, key=order.__getitem__) + sorted(changed - known)
    pairs: list[tuple[str, str]] = []
    for name in names:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, list) or isinstance(new, list):
            old_codes, new_codes = set(old or []), set(new or [])
            for code in new or []:
                if code not in old_codes:
                    pairs.append((f"{name}({code})", "checked"))
            for code in old or []:
                if code not in new_codes:
                    pairs.append((f"{name}({code})", "unchecked"))
            continue
        pairs.append((name, "" if new is None else str(new)))
    return pairs


def row_prefix(event_name: str | None, instance: int, repeating: bool) -> str:
    """Where in the record a change is: ``[event = baseline_arm_1]`` (longitudinal projects)
    and REDCap's ``[instance = 2]`` (repeating data after the first instance)."""
    parts = []
    if event_name:
        parts.append(f"[event = {event_name}]")
    if repeating and instance > 1:
        parts.append(f"[instance = {instance}]")
    return " ".join(parts) + (" " if parts else "")


def record_change(
    *,
    record: str,
    created: bool,
    values: list[tuple[str, str]] | dict[str, Any] | PackedRowValues,
    prefix: str = "",
    source: str = "API",
) -> Change:
    """A record write: ``Create record (API)`` the first time a record is written to, else
    ``Update record (API)`` (``source``: ``survey`` gives REDCap's survey wording)."""
    if source == "survey":
        action = "Create survey response" if created else "Update survey response"
    else:
        action = f"{'Create' if created else 'Update'} record ({source})"
    logged = values if isinstance(values, (dict, PackedRowValues)) else tuple(values)
    return Change(action, record, "", logged, prefix)


def row_writes(
    project: Project,
    keys: Iterable[tuple[str, int, str, int]],
    before: Mapping[tuple[str, int, str, int], Mapping[str, Any]],
    after: Mapping[tuple[str, int, str, int], Mapping[str, Any]],
    new_records: set[str],
    source: str = "API",
    packed: tuple[Layout | None, Mapping[tuple[str, int, str, int], str]] = (None, {}),
) -> list[Change]:
    """The changes a write made, one per stored row that changed, in the order written:
    ``Create record (API)`` for the first row of a record the write created (its details
    start with the record ID), ``Update record (API)`` for the others. ``packed``: the
    layout and the packed texts of the rows just stored; a new row among them is logged as
    its text (:class:`PackedRowValues`)."""
    layout, texts = packed
    order = field_order(project)
    id_field = project.record_id_field
    logged: list[Change] = []
    created: set[str] = set()
    prefixes: dict[tuple[int, str], str] = {}
    for key in keys:
        record, event_id, repeat_instrument, instance = key
        old, new = before.get(key), after.get(key, {})
        first_of_new = record in new_records and record not in created
        if first_of_new:
            created.add(record)
        values: list[tuple[str, str]] | dict[str, Any] | PackedRowValues
        text = texts.get(key)
        if not old and text is not None and layout is not None and PackedRowValues.loggable(text):
            values = PackedRowValues(layout, text, id_field if first_of_new else None)
        elif old:
            pairs = row_assignments(old, new, order)
            if first_of_new:
                pairs = [(id_field, record)] + [p for p in pairs if p[0] != id_field]
            values = (
                pairs
                if not pairs or max(map(len, map(itemgetter(1), pairs))) <= MAX_VALUE
                else [(n, bounded(v)) for n, v in pairs]
            )
        else:
            values = _new_row_values(new, id_field, record if first_of_new else None)
        if not values:
            continue
        if instance == 1:  # (the rows of a bulk import: one prefix per event and form)
            prefix = prefixes.get((event_id, repeat_instrument))
            if prefix is None:
                prefix = _prefix(project, event_id, repeat_instrument, instance)
                prefixes[(event_id, repeat_instrument)] = prefix
        else:
            prefix = _prefix(project, event_id, repeat_instrument, instance)
        logged.append(
            record_change(
                record=record, created=first_of_new, values=values, prefix=prefix, source=source
            )
        )
    return logged


def _prefix(project: Project, event_id: int, repeat_instrument: str, instance: int) -> str:
    """:func:`row_prefix` of a stored row."""
    event = project.event_by_id.get(event_id) if project.is_longitudinal else None
    repeating = bool(repeat_instrument) or project.is_repeating_event(event_id)
    return row_prefix(event.unique_event_name if event else None, instance, repeating)


def _new_row_values(
    data: Mapping[str, Any], id_field: str, new_record: str | None
) -> dict[str, Any]:
    """The logged values of a row written where there was none: the row's values as they
    are, with the record ID for the first row of a new record (put in field order, and long
    values bounded, only when read: :func:`new_row_pairs`; looking at each value's length
    here cost a bulk import 3 % of its time)."""
    values = dict(data)  # (a copy: the fastest way to a new dict of the same size)
    if new_record is not None:
        values[id_field] = new_record
    return values
