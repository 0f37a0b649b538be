"""REDCap's special functions (reference doc §3), as plain Python on runtime values.

Each entry is ``name -> (min_args, max_args, impl)``; ``impl`` receives already-evaluated
argument values. ``if`` is not here: the compiler builds it lazily so only the chosen branch is
evaluated. Missing-data-code functions need the project's codes, so they are created per
compilation by :func:`library`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation

from .values import (
    BLANK,
    format_number,
    is_blank,
    num_result,
    parse_datetime,
    to_number,
    to_text,
    truthy,
)

Impl = Callable[..., object]
Spec = tuple[int, int | None, Impl]

#: datediff units: seconds per unit. ``y`` and ``M`` use REDCap's documented average lengths.
_UNIT_SECONDS = {
    "y": 365.2425 * 86400,
    "M": 30.44 * 86400,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
}
_DATE_FORMATS = frozenset({"ymd", "mdy", "dmy"})


# ----------------------------------------------------------------------------------- numeric


def _numeric(fn: Callable[..., float]) -> Impl:
    """Wrap a float function: any blank/non-numeric argument, or a math error, gives blank."""

    def impl(*args: object) -> object:
        nums = []
        for a in args:
            n = to_number(a)
            if n is None:
                return BLANK
            nums.append(n)
        try:
            return num_result(fn(*nums))
        except (ValueError, OverflowError, ZeroDivisionError):
            return BLANK

    impl.__name__ = fn.__name__
    return impl


def _rounder(mode: str) -> Impl:
    def impl(x: object, dp: object = 0) -> object:
        n = to_number(x)
        if n is None:
            return BLANK
        places = to_number(dp)
        places_i = int(places) if places is not None else 0
        try:
            q = Decimal(1).scaleb(-places_i)
            return float(Decimal(repr(n)).quantize(q, rounding=mode))
        except (InvalidOperation, OverflowError, ValueError):
            return BLANK

    return impl


def _log(x: object, base: object = BLANK) -> object:
    n = to_number(x)
    if n is None or n <= 0:
        return BLANK
    b = to_number(base)
    try:
        if b is None:
            return math.log(n)
        return num_result(math.log(n, b))
    except (ValueError, ZeroDivisionError):
        return BLANK


def _mod(a: float, b: float) -> float:
    return math.fmod(a, b)


def _values(args: tuple[object, ...]) -> list[float]:
    """Numbers among aggregate arguments: blanks (and non-numeric text) are skipped."""
    out = []
    for a in args:
        n = to_number(a)
        if n is not None:
            out.append(n)
    return out


def _aggregate(fn: Callable[[list[float]], float], minimum: int = 1) -> Impl:
    def impl(*args: object) -> object:
        vals = _values(args)
        if len(vals) < minimum:
            return BLANK
        try:
            return num_result(fn(vals))
        except (ValueError, OverflowError, statistics.StatisticsError):
            return BLANK

    return impl


def _isnumber(v: object) -> bool:
    if isinstance(v, bool):
        return False
    return to_number(v) is not None


def _isinteger(v: object) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, str):
        s = v.strip()
        if s[:1] in "+-":
            s = s[1:]
        return s.isdigit() and s.isascii()
    n = to_number(v)
    return n is not None and n == int(n)


# -------------------------------------------------------------------------------------- text


def _contains(h: object, n: object) -> bool:
    return to_text(n).lower() in to_text(h).lower()


def _not_contain(h: object, n: object) -> bool:
    return not _contains(h, n)


def _starts_with(h: object, n: object) -> bool:
    return to_text(h).lower().startswith(to_text(n).lower())


def _ends_with(h: object, n: object) -> bool:
    return to_text(h).lower().endswith(to_text(n).lower())


def _count(n: object) -> int | None:
    x = to_number(n)
    if x is None or x < 0:
        return None
    return int(x)


def _left(t: object, n: object) -> object:
    k = _count(n)
    return BLANK if k is None else to_text(t)[:k]


def _right(t: object, n: object) -> object:
    k = _count(n)
    if k is None:
        return BLANK
    s = to_text(t)
    return s[len(s) - k :] if k < len(s) else s


def _mid(t: object, start: object, n: object) -> object:
    st = to_number(start)
    k = _count(n)
    if st is None or k is None:
        return BLANK
    s = to_text(t)
    i = max(int(st), 1) - 1
    return s[i : i + k]


def _length(t: object) -> int:
    return len(to_text(t))


def _find(needle: object, hay: object) -> int:
    """1-based position of ``needle`` in ``hay`` (case-insensitive like the other text tests)."""
    n = to_text(needle)
    if n == "":
        return 0
    return to_text(hay).lower().find(n.lower()) + 1


def _trim(t: object) -> str:
    return to_text(t).strip()


def _upper(t: object) -> str:
    return to_text(t).upper()


def _lower(t: object) -> str:
    return to_text(t).lower()


def _replace_text(h: object, search: object, repl: object) -> str:
    s = to_text(search)
    text = to_text(h)
    return text if s == "" else text.replace(s, to_text(repl))


def _concat(*args: object) -> str:
    return "".join(to_text(a) for a in args)


def _concat_ws(sep: object, *args: object) -> str:
    return to_text(sep).join(t for t in (to_text(a) for a in args) if t != "")


# -------------------------------------------------------------------------------------- dates


def _flag(v: object) -> bool:
    if isinstance(v, str):
        return v.strip().lower() == "true" or (v.strip() not in ("", "false") and truthy(v))
    return truthy(v)


def _datediff(d1: object, d2: object, unit: object, *rest: object) -> object:
    """``datediff(d1, d2, unit[, 'ymd'|'mdy'|'dmy'][, signed])``: d2 - d1 in ``unit``.

    The fourth argument is a date format in older expressions and returnSignedValue in newer
    ones, so a boolean-ish 4th argument is read as the flag.
    """
    fmt = "ymd"
    signed = False
    if len(rest) == 1:
        r = rest[0]
        if isinstance(r, str) and r.strip().lower() in _DATE_FORMATS:
            fmt = r.strip().lower()
        else:
            signed = _flag(r)
    elif len(rest) == 2:
        if isinstance(rest[0], str) and rest[0].strip().lower() in _DATE_FORMATS:
            fmt = rest[0].strip().lower()
        signed = _flag(rest[1])
    u = to_text(unit).strip()
    per = _UNIT_SECONDS.get(u)
    if per is None:
        return BLANK
    a = parse_datetime(d1, fmt)
    b = parse_datetime(d2, fmt)
    if a is None or b is None:
        return BLANK
    diff = (b - a).total_seconds() / per
    return diff if signed else abs(diff)


def _dt(v: object) -> datetime | None:
    return parse_datetime(v)


def _year(v: object) -> object:
    d = _dt(v)
    return BLANK if d is None else d.year


def _month(v: object) -> object:
    d = _dt(v)
    return BLANK if d is None else d.month


def _day(v: object) -> object:
    d = _dt(v)
    return BLANK if d is None else d.day


def _dayoftheweek(v: object) -> object:
    d = _dt(v)
    return BLANK if d is None else d.isoweekday()


def _age_at_date(dob: object, when: object, decimal: object = False) -> object:
    a, b = _dt(dob), _dt(when)
    if a is None or b is None:
        return BLANK
    if _flag(decimal):
        return (b - a).total_seconds() / _UNIT_SECONDS["y"]
    years = b.year - a.year - ((b.month, b.day) < (a.month, a.day))
    return years


# ----------------------------------------------------------------------------------- library


#: The functions that need nothing of the project, by group; built once at import.
_NUMERIC: dict[str, Spec] = {
    "round": (1, 2, _rounder(ROUND_HALF_UP)),
    "roundup": (1, 2, _rounder(ROUND_UP)),
    "rounddown": (1, 2, _rounder(ROUND_DOWN)),
    "sqrt": (1, 1, _numeric(math.sqrt)),
    "abs": (1, 1, _numeric(abs)),
    "exponential": (1, 1, _numeric(math.exp)),
    "log": (1, 2, _log),
    "mod": (2, 2, _numeric(_mod)),
    "min": (1, None, _aggregate(min)),
    "max": (1, None, _aggregate(max)),
    "sum": (1, None, _aggregate(math.fsum)),
    "mean": (1, None, _aggregate(statistics.fmean)),
    "median": (1, None, _aggregate(statistics.median)),
    "stdev": (1, None, _aggregate(statistics.stdev, minimum=2)),
    "isnumber": (1, 1, _isnumber),
    "isinteger": (1, 1, _isinteger),
}
_TEXT: dict[str, Spec] = {
    "contains": (2, 2, _contains),
    "not_contain": (2, 2, _not_contain),
    "starts_with": (2, 2, _starts_with),
    "ends_with": (2, 2, _ends_with),
    "find": (2, 2, _find),
    "left": (2, 2, _left),
    "right": (2, 2, _right),
    "mid": (3, 3, _mid),
    "length": (1, 1, _length),
    "trim": (1, 1, _trim),
    "upper": (1, 1, _upper),
    "lower": (1, 1, _lower),
    "replace_text": (3, 3, _replace_text),
    "concat": (1, None, _concat),
    "concat_ws": (2, None, _concat_ws),
}
_DATES: dict[str, Spec] = {
    "datediff": (3, 5, _datediff),
    "age_at_date": (2, 3, _age_at_date),
    "dayoftheweek": (1, 1, _dayoftheweek),
    "year": (1, 1, _year),
    "month": (1, 1, _month),
    "day": (1, 1, _day),
}


def _missing_code_functions(codes: frozenset[str]) -> dict[str, Spec]:
    """The missing-data-code functions, closed over one project's codes."""

    def isblankormissingcode(v: object) -> bool:
        return is_blank(v) or to_text(v) in codes

    def isblanknotmissingcode(v: object) -> bool:
        return is_blank(v)

    def ismissingcode(v: object) -> bool:
        return not is_blank(v) and to_text(v) in codes

    def hasmissingcode(v: object, listed: object = BLANK) -> bool:
        text = to_text(v)
        if is_blank(v):
            return False
        wanted = {c.strip() for c in to_text(listed).split(",") if c.strip()}
        return text in (wanted or codes)

    return {
        "isblankormissingcode": (1, 1, isblankormissingcode),
        "isblanknotmissingcode": (1, 1, isblanknotmissingcode),
        "ismissingcode": (1, 1, ismissingcode),
        "hasmissingcode": (1, 2, hasmissingcode),
    }


def library(missing_codes: Collection[str] = ()) -> dict[str, Spec]:
    """The function table (a new dict per call); missing-data-code functions close over the
    project's codes."""
    return {
        **_NUMERIC,
        **_missing_code_functions(frozenset(missing_codes)),
        **_TEXT,
        **_DATES,
    }


#: Names handled by the compiler itself rather than the table.
SPECIAL_FORMS: dict[str, tuple[int, int | None]] = {"if": (3, 3)}

__all__ = ["SPECIAL_FORMS", "Spec", "format_number", "library"]
