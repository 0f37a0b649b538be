"""The stored row: one per (record, event, repeat instrument, instance), and its packed form.

:class:`StoredRow` is the domain's record type: storage reads and writes it, the exporters,
the import checks, the logic engine and the survey pages consume it, none of them knowing
where it came from. Its ``data`` is ``{field: value}`` (a checkbox field: the list of its
checked codes in choice order; a field with no value is absent, ``""`` is never held).

Storage keeps most rows *packed* (docs/ARCHITECTURE.md, "Stored record data"): the cells of
a :class:`Layout` (the project's stored columns when the row was written) joined by
``\\x1f`` behind ``\\x1e`` and the layout's id. Why: an export then takes a row's cells with
one C-level ``str.split`` and one ``itemgetter`` instead of decoding a JSON object of 200
keys and looking each one up (the decode alone cost 0.8 of the whole csv-module baseline,
BENCHMARKS.md). A row read packed builds its ``data`` only when someone asks for it; the
flat export of a row nobody asked that of reads its cells directly (:meth:`StoredRow.packed`).
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcap.model.project import Field

#: First character of a packed row (a JSON object starts with ``{``).
PACKED_MARK = "\x1e"
#: Between the layout id and each cell of a packed row.
CELL_SEPARATOR = "\x1f"

#: Appended to a packed row's text before it is split, so that its cells end with a blank
#: and an unchecked cell: what a column the row's layout lacks shows (by these indices).
_CONSTANT_CELLS = CELL_SEPARATOR + CELL_SEPARATOR + "0"
BLANK_CELL = -2
UNCHECKED_CELL = -1

#: Sets of checked codes remembered per checkbox field (:meth:`Layout._option_cells`).
MEMO_SIZE = 256

#: A layout column: a field's name, or (checkbox field, option code) for one option.
LayoutColumn = str | tuple[str, str]


def cells_getter(indices: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """``itemgetter`` that always returns a tuple (``itemgetter(i)`` alone returns the item)."""
    if len(indices) == 0:
        return lambda cells: ()
    if len(indices) == 1:
        index = indices[0]
        return lambda cells: (cells[index],)
    return operator.itemgetter(*indices)


class Layout:
    """The stored columns of a project's design at one moment, immutable: data fields in field
    order (a checkbox field as one column per option), each instrument's ``<form>_complete``
    (and a survey's ``<form>_timestamp``) after its fields. Its id is a hash of its columns, so an id means the same columns in
    every process, database and snapshot (a process may cache layouts by id forever). (Its
    only changing part is a memo of checkbox cells, safe to share between threads.)

    Cell ``i`` of a packed row split on :data:`CELL_SEPARATOR` is column ``i - 1`` (cell 0
    is the mark and the id): ``""`` for no value, ``"1"``/``"0"`` for a checkbox option.
    """

    __slots__ = (
        "layout_id",
        "columns",
        "value_index",
        "option_index",
        "_blank",
        "_options",
        "_slots",
        "_decode_plan",
    )

    def __init__(self, columns: Iterable[LayoutColumn]) -> None:
        self.columns: tuple[LayoutColumn, ...] = tuple(
            c if isinstance(c, str) else (c[0], c[1]) for c in columns
        )
        self.layout_id = layout_id(self.columns)
        #: field -> its cell index (plain fields); (field, code) -> cell index (options).
        self.value_index: dict[str, int] = {}
        self.option_index: dict[tuple[str, str], int] = {}
        options: dict[str, list[tuple[str, int]]] = {}
        for i, column in enumerate(self.columns, start=1):
            if isinstance(column, str):
                self.value_index[column] = i
            else:
                self.option_index[column] = i
                options.setdefault(column[0], []).append((column[1], i))
        #: Every data key this layout holds, each with a blank value, in column order (a
        #: checkbox field where its options are): encoding fills a copy and takes its values.
        self._blank = dict.fromkeys([c if isinstance(c, str) else c[0] for c in self.columns], "")
        #: checkbox field -> ([codes], [cell indices]) in choice order.
        self._options = {
            name: ([code for code, _ in pairs], [i for _, i in pairs])
            for name, pairs in options.items()
        }
        #: (field, its place among the blank's values, its memo of checked sets -> cells),
        #: the last field first: a field's options are side by side (design_columns), so
        #: its value's place takes their cells, and the places before it stay put.
        self._slots: list[tuple[str, int, dict[tuple[str, ...], tuple[str, ...]]]] = []
        places = {name: at for at, name in enumerate(self._blank)}
        for name, (codes, indices) in self._options.items():
            if indices != list(range(indices[0], indices[0] + len(indices))):
                raise ValueError(f"the options of {name} are not side by side")
            self._slots.append((name, places[name], {(): ("0",) * len(codes)}))
        self._slots.reverse()
        self._decode_plan = self._plan_decode()

    def _plan_decode(self) -> list[tuple[str, Any]]:
        """(name, index) for a plain field, (name, (codes, getter)) for a checkbox field, in
        column order (so a decoded row's keys come in dictionary order)."""
        plan: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for column in self.columns:
            if isinstance(column, str):
                plan.append((column, self.value_index[column]))
            elif column[0] not in seen:
                seen.add(column[0])
                codes, indices = self._options[column[0]]
                plan.append((column[0], (codes, cells_getter(indices))))
        return plan

    def columns_json(self) -> str:
        """The columns as stored in the layouts table."""
        return json.dumps([c if isinstance(c, str) else list(c) for c in self.columns])

    @classmethod
    def from_json(cls, text: str) -> Layout:
        return cls(json.loads(text))

    # -- codec ------------------------------------------------------------------------------
    def encode(self, data: dict[str, Any]) -> str | None:
        """The packed form of ``data``, or None when it cannot hold it exactly (a key not in
        this layout, a value that is not a non-empty string without the separators and NUL,
        a checkbox value that is not a list of this layout's codes in choice order)."""
        blank = self._blank
        full = blank.copy()
        full.update(data)
        if len(full) != len(blank):  # a key this layout lacks
            return None
        cells = list(full.values())
        if cells.count("") != len(blank) - len(data):  # a value "": it would read back absent
            return None
        for name, at, memo in self._slots:
            checked = cells[at]
            if checked == "":
                checked = ()
            elif checked.__class__ is not list or not checked:
                return None  # [] too: it would read back as absent
            else:
                checked = tuple(checked)
            option_cells = memo.get(checked) or self._option_cells(name, checked, memo)
            if option_cells is None:
                return None
            cells[at : at + 1] = option_cells
        try:
            text = CELL_SEPARATOR.join(cells)
        except TypeError:  # a list where a string belongs, a number...
            return None
        if (
            PACKED_MARK in text
            or text.count(CELL_SEPARATOR) != len(cells) - 1
            or "\x00" in text  # PostgreSQL's text holds no NUL; JSON escapes it
        ):
            return None
        return PACKED_MARK + self.layout_id + CELL_SEPARATOR + text

    def _option_cells(
        self, name: str, checked: tuple[str, ...], memo: dict[tuple[str, ...], tuple[str, ...]]
    ) -> tuple[str, ...] | None:
        """A checkbox field's cells ("1"/"0" per option) for its checked codes, None unless
        they are this layout's codes in choice order. Remembered (up to :data:`MEMO_SIZE`
        sets per field): a field has few distinct sets, and a bulk import writes each one
        thousands of times."""
        codes = self._options[name][0]
        if tuple(c for c in codes if c in checked) != checked:
            return None
        cells = tuple("1" if c in checked else "0" for c in codes)
        if len(memo) < MEMO_SIZE:
            memo[checked] = cells
        return cells

    def decode(self, cells: Sequence[str]) -> dict[str, Any]:
        """``data`` of a packed row's cells (:func:`split_packed`)."""
        data: dict[str, Any] = {}
        for name, how in self._decode_plan:
            if how.__class__ is int:
                value = cells[how]
                if value:
                    data[name] = value
            else:
                codes, getter = how
                checked = [code for code, v in zip(codes, getter(cells), strict=True) if v == "1"]
                if checked:
                    data[name] = checked
        return data


def design_columns(
    form_names: Sequence[str], fields: Iterable[Field], survey_forms: Collection[str] = ()
) -> list[LayoutColumn]:
    """The layout columns of a design: its instruments in order, its fields in field order,
    each instrument closed by its ``<form>_complete`` and, for a survey, the
    ``<form>_timestamp`` its responses store."""
    by_form: dict[str, list[Field]] = {name: [] for name in form_names}
    for f in fields:
        if f.has_data and f.form_name in by_form:
            by_form[f.form_name].append(f)
    columns: list[LayoutColumn] = []
    for form, form_fields in by_form.items():
        for f in form_fields:
            if f.field_type == "checkbox":
                columns.extend((f.field_name, code) for code in f.choices)
            else:
                columns.append(f.field_name)
        columns.append(f"{form}_complete")
        if form in survey_forms:
            columns.append(f"{form}_timestamp")
    return columns


def layout_id(columns: Sequence[LayoutColumn]) -> str:
    """16 hex digits of a hash of the columns (64 bits: no two layouts of one server collide
    in practice, and the id costs 18 bytes a row)."""
    canonical = json.dumps([c if isinstance(c, str) else list(c) for c in columns])
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def split_packed(text: str) -> list[str]:
    """A packed row's cells (cell 0: the mark and the layout id; then one per column; then
    the :data:`BLANK_CELL` and :data:`UNCHECKED_CELL` constants)."""
    return (text + _CONSTANT_CELLS).split(CELL_SEPARATOR)


class StoredRow:
    """One stored row. ``data`` of a row read packed is decoded on first use; until then
    :meth:`packed` gives its layout and cells (after it, None: ``data`` may have changed)."""

    __slots__ = (
        "record",
        "event_id",
        "repeat_instrument",
        "instance",
        "group_id",
        "has_breaks_or_quotes",
        "_data",
        "_layout",
        "_cells",
    )

    def __init__(
        self,
        record: str,
        event_id: int,
        repeat_instrument: str,
        instance: int,
        data: dict[str, Any] | None = None,
        group_id: int | None = None,
        #: Whether any stored value holds a CR, LF or ``"`` (what line-break removal
        #: changes); found by one scan of the stored text instead of a look at every value.
        has_breaks_or_quotes: bool = True,
    ) -> None:
        self.record = record
        self.event_id = event_id
        self.repeat_instrument = repeat_instrument
        self.instance = instance
        self.group_id = group_id
        self.has_breaks_or_quotes = has_breaks_or_quotes
        self._data: dict[str, Any] | None = {} if data is None else data
        self._layout: Layout | None = None
        self._cells: list[str] | None = None

    @classmethod
    def from_packed(
        cls,
        record: str,
        event_id: int,
        repeat_instrument: str,
        instance: int,
        layout: Layout,
        cells: list[str],
        group_id: int | None = None,
        has_breaks_or_quotes: bool = True,
    ) -> StoredRow:
        """A row read packed: ``cells`` is :func:`split_packed` of its text. (Built without
        ``__init__``: an export makes one per stored row, and the dict ``__init__`` would
        make for ``data`` is never used.)"""
        row = object.__new__(cls)
        row.record = record
        row.event_id = event_id
        row.repeat_instrument = repeat_instrument
        row.instance = instance
        row.group_id = group_id
        row.has_breaks_or_quotes = has_breaks_or_quotes
        row._data = None
        row._layout = layout
        row._cells = cells
        return row

    @property
    def data(self) -> dict[str, Any]:
        data = self._data
        if data is None:
            assert self._layout is not None and self._cells is not None
            data = self._data = self._layout.decode(self._cells)
            self._layout = self._cells = None
        return data

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self._data = value
        self._layout = self._cells = None

    def packed(self) -> tuple[Layout, list[str]] | None:
        """(layout, cells) while ``data`` was never asked for, else None."""
        if self._cells is None:
            return None
        assert self._layout is not None
        return self._layout, self._cells

    def with_data(self, data: dict[str, Any]) -> StoredRow:
        """A copy of this row holding ``data``."""
        return StoredRow(
            self.record,
            self.event_id,
            self.repeat_instrument,
            self.instance,
            data,
            self.group_id,
            self.has_breaks_or_quotes,
        )

    @property
    def key(self) -> tuple[int, str, int]:
        return (self.event_id, self.repeat_instrument, self.instance)

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.record,
            self.event_id,
            self.repeat_instrument,
            self.instance,
            self.data,
            self.group_id,
            self.has_breaks_or_quotes,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not StoredRow:
            return NotImplemented
        assert isinstance(other, StoredRow)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaced

    def __repr__(self) -> str:
        return (
            f"StoredRow({self.record!r}, {self.event_id!r}, {self.repeat_instrument!r}, "
            f"{self.instance!r}, {self.data!r}, group_id={self.group_id!r})"
        )
