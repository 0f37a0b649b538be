"""JSON record lists, ``[{"field":"value",...},...]``, byte-for-byte as PHP's ``json_encode``.

Compact (no spaces), keys in header order, string values as JSON strings, ``int`` values as
JSON numbers (PyCap's recorded responses show ``redcap_repeat_instance`` as a number when set
and ``""`` when not), an empty export is ``[]``.

Escaping follows PHP's ``json_encode`` defaults, which REDCap uses: ``/`` is written ``\\/``
(seen in real REDCap responses: the metadata JSON recorded in IUREDCap/redcap-etl's tests,
``"Unknown \\/ Not Reported"``, and the 400 body recorded in bcbi/REDCap.jl's ``src/Import.jl``,
``"variable\\/field name"``) and non-ASCII characters are written as ``\\uXXXX`` escapes
(surrogate pairs beyond U+FFFF, lower-case hex, as PHP does). No recorded record export with
non-ASCII text was found to confirm the latter, but PHP's default is the likelier byte match,
and an all-ASCII body is also immune to clients that guess a wrong charset (redcapAPI decodes
as ISO-8859-1 when no charset is given). Every JSON parser reads both spellings identically.

orjson does the encoding; the PHP escapes are applied to each chunk afterwards (``/``
can only occur inside strings, so a byte replace is exact).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

import orjson

#: Flush to the HTTP layer once this many bytes are buffered. Each chunk costs a hop from the
#: worker thread to the event loop and a write: 256 KB chunks took 12-17 % less server CPU
#: than 64 KB ones for a 20,000-row report (1 MB: 2-5 % less again; BENCHMARKS.md). The CSV
#: writer gained nothing from bigger chunks and keeps 64 KB.
CHUNK_BYTES = 1 << 18

_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _u_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def php_escape(data: bytes) -> bytes:
    """orjson output -> PHP ``json_encode`` output (``\\/`` and ``\\uXXXX`` escapes)."""
    data = data.replace(b"/", b"\\/")
    if data.isascii():
        return data
    return _NON_ASCII.sub(_u_escape, data.decode()).encode()


def dumps(value: object) -> bytes:
    """One value as PHP's ``json_encode`` would write it (used for errors and small bodies)."""
    return php_escape(orjson.dumps(value))


def write_json(header: Sequence[str], rows: Iterable[Sequence[str | int]]) -> Iterator[bytes]:
    """Stream ``rows`` as a JSON list of objects keyed by ``header``, in chunks of about
    :data:`CHUNK_BYTES`.

    Cells must be ``str`` or ``int`` (REDCap has no JSON null in record exports: give ``""``).
    """
    keys = list(header)
    parts: list[bytes] = [b"["]
    size = 1
    first = True
    # One dict refilled for every row: its keys stay, only the values change, so no row
    # builds (and grows) a dict of its own. (A row of another width gets its own dict: it
    # would keep the previous row's tail.)
    item_dict = dict.fromkeys(keys, "")
    width = len(keys)
    for row in rows:
        if len(row) == width:
            item_dict.update(zip(keys, row, strict=True))
            item = orjson.dumps(item_dict)
        else:
            item = orjson.dumps(dict(zip(keys, row, strict=False)))
        if first:
            first = False
        else:
            parts.append(b",")
        parts.append(item)
        size += len(item) + 1
        if size >= CHUNK_BYTES:
            yield php_escape(b"".join(parts))
            parts, size = [], 0
    parts.append(b"]")
    yield php_escape(b"".join(parts))
