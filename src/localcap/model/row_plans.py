"""Checking many submitted rows of the same columns with as little Python work per value as
possible (the fast half of :class:`localcap.model.record_import.ImportChecker`).

Why: a bulk import is rows of a few hundred columns, the same columns row after row, and a
Python loop over every value made the checks the biggest cost of an import. For rows that
share their columns, event and repeating instrument, a :class:`RowPlan` is built once; per
row it then takes every value with one ``itemgetter``, checks the values that have a shape
(choice codes, numbers and other patterned validations, checkbox options ``0``/``1``) with
one regular expression over their joined text, the dates with their memoised check, and
hands the values over as they are. A row where any of these values does not pass is not
refused here: it goes through the value-by-value checks, which say what is wrong. So the
plan may only ever accept less than those checks, never more:

- every sub-pattern is stricter than or equal to the value-by-value rule, and allows the
  blank value (which every value-by-value rule accepts, stored as "");
- values are joined with ``\\x1f`` (unit separator); a row where a value holds one is left
  to the value-by-value checks (counted first), so no value can shift the others into the
  wrong sub-pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from localcap.model.project import Field
from localcap.model.validation import validation_pattern, validity_check

SEPARATOR = "\x1f"
#: The value of a checkbox option column (a blank too).
CHECKBOX_OPTION = "[01]?"

Getter = Callable[[Any], tuple[str, ...]]


def tuple_getter(positions: Sequence[Any]) -> Getter:
    """``itemgetter`` that always gives a tuple (itemgetter of one item gives the item)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    if positions:
        only = positions[0]
        return lambda seq: (seq[only],)
    return lambda seq: ()


def column_rule(f: Field, date_format: str) -> str | Callable[[str], object] | None:
    """How a value column of ``f`` is checked in bulk: ``""`` any text (nothing to check), a
    regular expression, a predicate (blanks are not given to it), or None: only the
    value-by-value checks can say (e.g. a date in MDY, which is converted first)."""
    if f.choices:
        return "|".join(re.escape(code) for code in f.choices)
    if f.field_type == "notes" or (f.field_type == "text" and not f.validation):
        return ""
    if f.field_type != "text":
        return None
    if f.validation.startswith(("date_", "datetime_")) and date_format != "YMD":
        return None
    pattern = validation_pattern(f.validation)
    if pattern is not None:
        return pattern
    check = validity_check(f.validation)
    return "" if check is bool else check  # bool: a validation REDCap leaves free


class RowPlan:
    """The bulk check of rows with one tuple of columns, of one event and repeating
    instrument.

    ``values``: the value columns taken as they are when a row passes (with a rule).
    ``boxes``: checkbox fields -> the option codes whose columns are taken.
    ``rest``: the columns left to the value-by-value checks (record ID, special columns,
    instruments that do not fit the row, fields without a bulk rule)."""

    def __init__(
        self,
        values: list[tuple[str, str | Callable[[str], object]]],
        boxes: dict[str, list[tuple[str, str]]],
        rest: list[str],
    ) -> None:
        self.names = [name for name, _ in values]
        self.rest = rest
        columns = self.names + [column for options in boxes.values() for _, column in options]
        self.take = tuple_getter(columns)
        patterned = [i for i, (_, rule) in enumerate(values) if isinstance(rule, str) and rule]
        patterns = [f"(?:{values[i][1]})?" for i in patterned]
        first_box = len(values)
        for options in boxes.values():
            patterned.extend(range(first_box, first_box + len(options)))
            patterns.extend([CHECKBOX_OPTION] * len(options))
            first_box += len(options)
        self.patterned = tuple_getter(patterned)
        self.pattern = re.compile(SEPARATOR.join(patterns)) if patterns else None
        self.separators = len(patterns) - 1
        by_check: dict[Callable[[str], object], list[int]] = {}
        for i, (_, rule) in enumerate(values):
            if callable(rule):
                by_check.setdefault(rule, []).append(i)
        self.checks = [(check, tuple_getter(at)) for check, at in by_check.items()]
        self.boxes: list[tuple[str, tuple[str, ...], Getter]] = []
        start = len(values)
        for name, options in boxes.items():
            codes = tuple(code for code, _ in options)
            self.boxes.append((name, codes, tuple_getter(range(start, start + len(codes)))))
            start += len(codes)

    def values_of(self, row: dict[str, str]) -> tuple[str, ...] | None:
        """The row's values in the plan's columns when they all pass, else None."""
        taken = self.take(row)
        if self.pattern is not None:
            joined = SEPARATOR.join(self.patterned(taken))
            if joined.count(SEPARATOR) != self.separators or not self.pattern.fullmatch(joined):
                return None
        for check, at in self.checks:
            if not all(map(check, filter(None, at(taken)))):
                return None
        return taken

    def checkboxes_of(self, taken: tuple[str, ...]) -> dict[str, dict[str, str]]:
        """The checkbox options of a row that passed, per field (code -> "0", "1" or "")."""
        return {name: dict(zip(codes, at(taken), strict=True)) for name, codes, at in self.boxes}
