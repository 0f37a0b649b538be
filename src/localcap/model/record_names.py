"""What a record name may be, and which names count for auto-numbering.

A record name is stored in a 255-character column on both backends; SQLite would keep a
longer one silently while PostgreSQL refuses it, so both refuse it up front with the same
message (NUL characters are refused where the data is parsed, :mod:`localcap.formats.parsers`).

Auto-numbering (``generateNextRecordName``, ``forceAutoNumber``) gives the highest numeric
record name plus one, as REDCap does. A name counts as numeric when it is a plain decimal
number of at most 18 ASCII digits (:func:`localcap.model.numbers.small_int`, so the next one
still fits a 64-bit integer): ``"٣"`` or ``"²"`` (Unicode digits) and a 5,000-digit name do
not count, so one odd record cannot break numbering for the whole project (Python refuses to
convert more than 4,300 digits, and the next name would be absurd).
"""

from __future__ import annotations

from localcap.model.numbers import small_int

#: The longest record name stored (the ``records.record`` column's width).
MAX_RECORD_NAME = 255


def record_number(name: str) -> int | None:
    """The number a record name stands for in auto-numbering, or None if it is not one."""
    return small_int(name)


def record_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a record name (beyond being blank), or None."""
    if len(name) > MAX_RECORD_NAME:
        return f"The record name is longer than {MAX_RECORD_NAME} characters"
    return None
