"""CSV exactly as PHP's ``fputcsv`` writes it (REDCap's exports are PHP).

A value is enclosed in double quotes only when it contains the delimiter, ``"``, CR, LF, tab,
space or PHP's escape character ``\\``; inner quotes are doubled; every line ends with ``\\n``.
(PHP's quirk of not doubling a quote that follows a backslash is not reproduced: that output
is ambiguous to every CSV reader, ours is not.)

Speed: Python's C ``csv`` writer quotes a value when it holds any character of the line
terminator, so writing with the terminator ``" \\t\\\\\\n"`` makes it quote on exactly PHP's
characters; each chunk's terminators are then turned back into ``\\n``. A chunk whose values
themselves contain that terminator sequence (checked by counting) is rewritten the slow way.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

CHUNK_ROWS = 500
DELIMITERS = {",": ",", "tab": "\t", "\t": "\t", ";": ";", "|": "|", "^": "^"}
TERMINATOR = " \t\\\n"


def parse_delimiter(value: str) -> str:
    """REDCap's csvDelimiter values; anything else falls back to a comma."""
    key = value if value == "\t" else value.strip().lower()
    return DELIMITERS.get(key, ",")


def _needs_quotes(delimiter: str) -> Callable[[str], object]:
    return re.compile("[" + re.escape(delimiter + '"\r\n\t \\') + "]").search


def format_line(values: Sequence[object], delimiter: str, needs: Callable[[str], object]) -> str:
    """One line, the straightforward way (used when the fast path cannot be trusted)."""
    cells = [v if v.__class__ is str else str(v) for v in values]
    return (
        delimiter.join(['"' + c.replace('"', '""') + '"' if needs(c) else c for c in cells]) + "\n"
    )


def _fast_chunk(rows: list[Sequence[object]], delimiter: str) -> str | None:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        quoting=csv.QUOTE_MINIMAL,
        lineterminator=TERMINATOR,
    )
    writer.writerows(rows)
    text = buffer.getvalue()
    if text.count(TERMINATOR) != len(rows):
        return None
    return text.replace(TERMINATOR, "\n")


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str = ","
) -> Iterator[bytes]:
    needs = _needs_quotes(delimiter)
    yield format_line(header, delimiter, needs).encode()
    chunk: list[Sequence[object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield _encode(chunk, delimiter, needs)
            chunk = []
    if chunk:
        yield _encode(chunk, delimiter, needs)


def _encode(chunk: list[Sequence[object]], delimiter: str, needs: Callable[[str], object]) -> bytes:
    text = _fast_chunk(chunk, delimiter)
    if text is None:
        text = "".join(format_line(row, delimiter, needs) for row in chunk)
    return text.encode()
