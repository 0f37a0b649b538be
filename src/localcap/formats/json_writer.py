"""JSON record lists: ``[{"field":"value",...},...]``, compact, keys in header order.

Values are strings (REDCap's JSON is all strings) except ints, which stay numbers: PyCap's
recorded responses show ``redcap_repeat_instance`` as a number when set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import orjson

CHUNK = 1 << 16


def write_json(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    keys = list(header)
    parts: list[bytes] = [b"["]
    size = 1
    first = True
    for row in rows:
        item = orjson.dumps(dict(zip(keys, row, strict=False)))
        if not first:
            parts.append(b",")
        parts.append(item)
        first = False
        size += len(item) + 1
        if size >= CHUNK:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(b"]")
    yield b"".join(parts)
