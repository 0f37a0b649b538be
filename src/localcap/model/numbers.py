"""Reading a whole number from untrusted text without surprises.

``str.isdigit()`` is true for ``"²"`` and ``"٣"`` (``int("²")`` raises), and ``int()`` of more
than 4,300 digits raises too (Python's guard against slow conversions): both once turned a
hostile parameter into a 500. :func:`small_int` accepts plain ASCII digits only, at most 18 of
them (any such number fits a 64-bit integer), and gives None for anything else.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,18}")
#: Ids and numbers beyond this cannot exist (the database's integer columns hold no more).
MAX_ID = 2**31 - 1


def small_int(text: str, maximum: int | None = None, minimum: int = 0) -> int | None:
    """``text`` (ASCII digits, at most 18) as an int within ``minimum..maximum``, else None."""
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    if number < minimum or (maximum is not None and number > maximum):
        return None
    return number
