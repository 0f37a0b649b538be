"""Value model and coercions shared by the evaluator and the function library.

Every runtime value is one of: ``str`` (``''`` is *blank*), ``float``/``int`` or ``bool``.
Field values arrive as the stored strings; numbers only appear as results of arithmetic and
functions. Keeping blank as ``''`` (rather than a sentinel) means a raw field value needs no
conversion on the hot path, which matters because a report filter runs once per exported row.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta

BLANK = ""

_NUM_RE = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_INT_RE = re.compile(r"\s*[-+]?\d+\s*")
_NUM_CACHE: dict[str, float | None] = {}
_NUM_CACHE_MAX = 200_000
_MISS: object = object()


def parse_number(text: str) -> float | None:
    """``float`` for a string that looks like a REDCap number (integer or decimal), else None.

    Deliberately stricter than ``float()``: ``'nan'``, ``'inf'``, ``'1e5'`` and ``'1_000'`` are
    text in REDCap. Results are memoised because report data repeats the same few values.
    """
    hit = _NUM_CACHE.get(text, _MISS)
    if hit is not _MISS:
        return hit  # type: ignore[return-value]
    result = float(text) if _NUM_RE.fullmatch(text) else None
    if len(_NUM_CACHE) >= _NUM_CACHE_MAX:
        _NUM_CACHE.clear()
    _NUM_CACHE[text] = result
    return result


def to_number(value: object) -> float | None:
    """Numeric view of any runtime value; None for blank or non-numeric (NaN-like)."""
    if isinstance(value, str):
        if value == "":
            return None
        return parse_number(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, list | tuple):  # a checkbox list leaking through: not a number
        return None
    return None


def num_result(x: float) -> float | str:
    """Arithmetic results that are not finite numbers become blank, as in REDCap calcs."""
    return x if math.isfinite(x) else BLANK


def format_number(x: float | int) -> str:
    """Text form of a number: integral values without ``.0``, others in shortest repr."""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return BLANK
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def to_text(value: object) -> str:
    """Text view of a runtime value (what concat() and the text functions see)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def is_blank(value: object) -> bool:
    return value == "" or value is None


def truthy(value: object) -> bool:
    """How a filter/branching/if() condition treats a value.

    Booleans as-is; numbers are true when non-zero; text is false when blank or numerically
    zero (``'0'``), true otherwise (PHP-style, as REDCap evaluates server-side).
    """
    if value is True or value is False:
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        if value == "":
            return False
        n = parse_number(value)
        return n != 0.0 if n is not None else True
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    return bool(value)


# ------------------------------------------------------------------------------------ dates

_ISO_RE = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*"
)
_US_RE = re.compile(
    r"\s*(\d{1,2})[-/](\d{1,2})[-/](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*"
)
_SLASH_ISO_RE = re.compile(
    r"\s*(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*"
)
_TIME_RE = re.compile(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*")
_EPOCH = date(1970, 1, 1)


def _mk(y: str, mo: str, d: str, h: str | None, mi: str | None, s: str | None) -> datetime | None:
    try:
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None


def parse_datetime(value: object, fmt: str = "ymd", keywords: bool = True) -> datetime | None:
    """Parse a stored date/datetime/time value, ``'today'`` or ``'now'``.

    Stored values are always ``Y-M-D[ H:M[:S]]`` whatever the field's display format, so that
    form is tried first; ``fmt`` (``mdy``/``dmy``, e.g. from datediff's 4th argument or a field's
    validation) decides how a ``xx-xx-YYYY`` literal is read. ``keywords=False`` disables
    ``today``/``now`` (comparisons do not treat them specially, as in REDCap). A bare ``H:M[:S]`` (time fields) is
    placed on 1970-01-01 so that datediff between two times works.
    """
    if not isinstance(value, str):
        return None
    text = value
    if not text:
        return None
    low = text.strip().lower() if keywords else ""
    if low == "today":
        return datetime.combine(date.today(), datetime.min.time())
    if low == "now":
        return datetime.now().replace(microsecond=0)
    m = _ISO_RE.fullmatch(text) or _SLASH_ISO_RE.fullmatch(text)
    if m:
        return _mk(*m.groups())
    m = _US_RE.fullmatch(text)
    if m:
        a, b, y, h, mi, s = m.groups()
        return _mk(y, b, a, h, mi, s) if fmt == "dmy" else _mk(y, a, b, h, mi, s)
    m = _TIME_RE.fullmatch(text)
    if m:
        h, mi, s = m.groups()
        if int(h) < 24:
            return datetime.combine(_EPOCH, datetime.min.time()) + timedelta(
                hours=int(h), minutes=int(mi), seconds=int(s or 0)
            )
    return None


def date_format_of(validation: str) -> str | None:
    """``ymd``/``mdy``/``dmy`` for a date/datetime validation name, else None."""
    v = validation.lower()
    if not (v.startswith("date") or v == "time" or v.startswith("time_")):
        return None
    for fmt in ("mdy", "dmy", "ymd"):
        if v.endswith(fmt) or f"_{fmt}_" in v or v.endswith(f"{fmt}_seconds"):
            return fmt
    return "ymd"


__all__ = [
    "BLANK",
    "date_format_of",
    "format_number",
    "is_blank",
    "num_result",
    "parse_datetime",
    "parse_number",
    "to_number",
    "to_text",
    "truthy",
]
