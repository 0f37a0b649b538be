"""Checking many submitted rows of the same columns with as little Python work per value as
possible (the fast half of :class:`localcap.model.record_import.ImportChecker`).

Why: a bulk import is rows of a few hundred columns, the same columns row after row, and a
Python step per value made the checks the biggest cost of an import. For rows that share
their columns, event and repeating instrument, a :class:`RowPlan` is built once; per row it
then checks the columns a group at a time, each group with one C-level call:

- choice columns with the same codes, and checkbox options (``0``/``1``), by one
  ``frozenset.issuperset`` of their values;
- columns of one validation (numbers, dates...) by one regular expression over their values
  joined with ``\\x1f`` (the separators counted first, so a value holding one cannot shift
  its neighbours into the wrong place), unless every value already passed in an earlier row
  (one ``set.issuperset``: dates, codes and rounded numbers repeat);
- free text needs no check;

and takes the values as they are. A row where a group does not pass is not refused here: it
goes through the value-by-value checks, which say what is wrong. So a plan may only ever
accept less than those checks, never more: each group's rule is the value-by-value rule or
stricter (dates must be zero-padded and Feb 29 is left to the long way), and allows the blank
value, which every value-by-value rule accepts (stored as "").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from localcap.model.project import Field
from localcap.model.rows import cells_getter
from localcap.model.validation import validation_pattern

SEPARATOR = "\x1f"
#: Values of a validation remembered as passing, per group (memory stays bounded).
MEMO_SIZE = 1 << 16
PASSED = ("",)
#: The values a checkbox option column may take as they are.
CHECKBOX_OPTION = frozenset({"", "0", "1"})

#: A submitted row: column -> value, or the values in the order of known columns.
Row = dict[str, str] | list[str]

#: How a column is checked in bulk: "" free text, a set of the values allowed as they are,
#: or a regular expression a non-blank value matches in full.
Rule = str | frozenset[str] | re.Pattern[str]


def column_rule(f: Field, date_format: str) -> Rule | None:
    """How a value column of ``f`` is checked in bulk, or None when only the value-by-value
    checks can say (e.g. a date in MDY, which is converted before it is checked)."""
    if f.choices:
        return frozenset(f.choices) | {""}
    if f.field_type == "notes" or (f.field_type == "text" and not f.validation):
        return ""
    if f.field_type != "text":
        return None
    if f.validation.startswith(("date_", "datetime_")) and date_format != "YMD":
        return None
    pattern = validation_pattern(f.validation)
    return "" if pattern is None else re.compile(pattern)  # none: REDCap leaves it free


class RowPlan:
    """The bulk check of rows with one tuple of columns, of one event and repeating
    instrument.

    ``names``: the value columns taken as they are when a row passes, ``take`` their values.
    ``options``: the (checkbox field, code) of the option columns taken.
    ``rest``: the columns left to the value-by-value checks (record ID, special columns,
    instruments that do not fit the row, fields without a bulk rule).

    A row is a dict (column -> value), or, given ``positions`` (column -> index), a list of
    values in the order of the columns (a CSV's rows: no dict is built for them)."""

    def __init__(
        self,
        values: list[tuple[str, Rule]],
        boxes: dict[str, list[tuple[str, str]]],
        rest: list[str],
        positions: dict[str, int] | None = None,
    ) -> None:
        at: Callable[[str], str | int] = (
            (lambda name: name) if positions is None else positions.__getitem__
        )
        self.names = [name for name, _ in values]
        self.rest = rest
        self._rest_at = [(name, at(name)) for name in rest]
        self.take = cells_getter([at(name) for name in self.names])
        allowed: dict[frozenset[str], list[str]] = {}
        patterned: dict[re.Pattern[str], list[str]] = {}
        for name, rule in values:
            if isinstance(rule, frozenset):
                allowed.setdefault(rule, []).append(name)
            elif isinstance(rule, re.Pattern):
                patterned.setdefault(rule, []).append(name)
        options = [(name, code, column) for name, codes in boxes.items() for code, column in codes]
        if options:
            allowed.setdefault(CHECKBOX_OPTION, []).extend(column for *_, column in options)
        self.sets = [
            (codes.issuperset, cells_getter([at(c) for c in columns]))
            for codes, columns in allowed.items()
        ]
        self.patterns = [
            (
                set(PASSED),
                _joined(rule.pattern, len(columns)),
                len(columns) - 1,
                cells_getter([at(c) for c in columns]),
            )
            for rule, columns in patterned.items()
        ]
        #: (checkbox field, code) of each option column taken.
        self.options = [(name, code) for name, code, _ in options]
        self.take_options = cells_getter([at(column) for *_, column in options])

    def values_of(self, row: Row) -> tuple[str, ...] | None:
        """The row's values in :attr:`names` when every group passes, else None."""
        for allows, values in self.sets:
            if not allows(values(row)):
                return None
        for passed, pattern, separators, values in self.patterns:
            group = values(row)
            if passed.issuperset(group):  # values seen before (dates, codes, numbers repeat)
                continue
            joined = SEPARATOR.join(group)
            if joined.count(SEPARATOR) != separators or not pattern.fullmatch(joined):
                return None
            if len(passed) < MEMO_SIZE:
                passed.update(group)
        return self.take(row)

    def checkboxes_of(self, row: Row) -> dict[tuple[str, str], str]:
        """The checkbox options of a row that passed: (field, code) -> "0", "1" or ""."""
        return dict(zip(self.options, self.take_options(row), strict=False))  # (same length)

    def rest_of(self, row: Row) -> dict[str, str]:
        """The row's columns in :attr:`rest` and their values."""
        return {name: row[at] for name, at in self._rest_at}  # type: ignore[index]


def _joined(pattern: str, count: int) -> re.Pattern[str]:
    """``pattern`` (or a blank) ``count`` times, separated by :data:`SEPARATOR`."""
    one = f"(?:{pattern})?"
    return re.compile(one + (f"(?:{SEPARATOR}{one}){{{count - 1}}}" if count > 1 else ""))
