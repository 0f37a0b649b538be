"""REDCap's text validation types, and checking a value against one (Import Records)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache

DATE_FORMATS = {
    "date_ymd": "%Y-%m-%d",
    "date_mdy": "%Y-%m-%d",
    "date_dmy": "%Y-%m-%d",
    "datetime_ymd": "%Y-%m-%d %H:%M",
    "datetime_mdy": "%Y-%m-%d %H:%M",
    "datetime_dmy": "%Y-%m-%d %H:%M",
    "datetime_seconds_ymd": "%Y-%m-%d %H:%M:%S",
    "datetime_seconds_mdy": "%Y-%m-%d %H:%M:%S",
    "datetime_seconds_dmy": "%Y-%m-%d %H:%M:%S",
}

_PATTERNS: dict[str, str] = {
    "integer": r"[-+]?\d+",
    "number": r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?",
    "number_1dp": r"[-+]?\d+\.\d",
    "number_2dp": r"[-+]?\d+\.\d{2}",
    "number_3dp": r"[-+]?\d+\.\d{3}",
    "number_4dp": r"[-+]?\d+\.\d{4}",
    "number_comma_decimal": r"[-+]?(\d+(,\d*)?|,\d+)",
    "number_1dp_comma_decimal": r"[-+]?\d+,\d",
    "number_2dp_comma_decimal": r"[-+]?\d+,\d{2}",
    "number_3dp_comma_decimal": r"[-+]?\d+,\d{3}",
    "number_4dp_comma_decimal": r"[-+]?\d+,\d{4}",
    "time": r"([01]\d|2[0-3]):[0-5]\d",
    "time_hh_mm_ss": r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d",
    "time_mm_ss": r"[0-5]\d:[0-5]\d",
    "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    "phone": r"\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}(\s*(x|ext\.?)\s*\d+)?",
    "zipcode": r"\d{5}(-\d{4})?",
    "postalcode_canada": r"[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d",
    "alpha_only": r"[A-Za-z]+",
    "ssn": r"\d{3}-\d{2}-\d{4}",
    "mrn_6d": r"\d{6}",
    "mrn_10d": r"\d{10}",
    "vmrn": r"\d{9}",
}
_COMPILED = {name: re.compile(rf"^(?:{p})$") for name, p in _PATTERNS.items()}

#: Every validation a text field may carry (the checked ones, plus ones REDCap leaves free).
VALIDATION_TYPES = (
    frozenset(_PATTERNS)
    | frozenset(DATE_FORMATS)
    | {
        "int",
        "float",
        "date",
        "datetime",
        "datetime_seconds",
        "autocomplete",
        "signature",
    }
)


#: A date as REDCap stores it: checked without ``strptime`` (30 times slower), which still
#: judges every other spelling (``2024-1-5`` is a valid ``%Y-%m-%d``).
_PLAIN_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _date_check(fmt: str) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if fmt == "%Y-%m-%d" and (plain := _PLAIN_DATE.fullmatch(value)):
            try:
                date(*map(int, plain.groups()))
            except ValueError:
                return False
            return True
        try:
            datetime.strptime(value, fmt)
        except ValueError:
            return False
        return True

    return check


#: (Memoised: an import's dates repeat, and a hit is a C-level look-up.)
_DATE_CHECKS = {
    name: lru_cache(maxsize=1 << 16)(_date_check(fmt)) for name, fmt in DATE_FORMATS.items()
}


def value_is_valid(validation: str, value: str) -> bool:
    """Whether an imported value fits its validation (dates must be Y-M-D, as REDCap stores)."""
    if validation in DATE_FORMATS:
        return _DATE_CHECKS[validation](value)
    pattern = _COMPILED.get({"int": "integer", "float": "number"}.get(validation, validation))
    return pattern is None or bool(pattern.match(value))


def validity_check(validation: str) -> Callable[[str], object]:
    """:func:`value_is_valid` for one validation as a predicate, looked up once (an import
    checks thousands of values of the same field)."""
    if validation in DATE_FORMATS:
        return _DATE_CHECKS[validation]
    pattern = _COMPILED.get({"int": "integer", "float": "number"}.get(validation, validation))
    return pattern.match if pattern is not None else bool


#: A Y-M-D date whose day exists in its month (Feb 29 left out: it needs the year).
_STRICT_DATE = (
    r"(?!0000)\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))"
)
_STRICT_TIME = r" (?:[01]\d|2[0-3]):[0-5]\d"
_STRICT_SECONDS = r":[0-5]\d"


def validation_pattern(validation: str) -> str | None:
    """A regular expression that only values valid for this validation match in full, for
    checks that join many values into one match. For most validations it is the rule itself;
    for dates it is stricter (zero-padded, Feb 29 and leap seconds left out), so a value it
    refuses still has to be judged by :func:`value_is_valid`."""
    if validation in DATE_FORMATS:
        fmt = DATE_FORMATS[validation]
        time = _STRICT_TIME if "%H" in fmt else ""
        return _STRICT_DATE + time + (_STRICT_SECONDS if "%S" in fmt else "")
    return _PATTERNS.get({"int": "integer", "float": "number"}.get(validation, validation))


def validation_message(field_name: str, validation: str) -> str:
    if validation.startswith(("date_", "datetime_")):
        fmt = (
            DATE_FORMATS[validation]
            .replace("%Y", "YYYY")
            .replace("%m", "MM")
            .replace("%d", "DD")
            .replace("%H", "HH")
            .replace("%M", "MM")
            .replace("%S", "SS")
        )
        return f"The value for the field '{field_name}' must be a valid date in the format {fmt}"
    return f"The value for the field '{field_name}' is not a valid {validation} value"
