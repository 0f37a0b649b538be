"""CSV exactly as PHP's ``fputcsv`` writes it (REDCap's exports are PHP).

A value is enclosed in double quotes only when it contains the delimiter, ``"``, CR, LF, tab,
space or PHP's escape character ``\\``; inner quotes are doubled; every line ends with ``\\n``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

CHUNK = 1 << 16
DELIMITERS = {",": ",", "tab": "\t", "\t": "\t", ";": ";", "|": "|", "^": "^"}


def parse_delimiter(value: str) -> str:
    """REDCap's csvDelimiter values; anything else falls back to a comma."""
    return DELIMITERS.get(value.strip().lower() if value.strip() else value, ",")


def _needs_quotes(delimiter: str) -> frozenset[str]:
    return frozenset({delimiter, '"', "\r", "\n", "\t", " ", "\\"})


def format_line(values: Sequence[object], delimiter: str, special: frozenset[str]) -> str:
    cells = []
    for value in values:
        text = value if isinstance(value, str) else str(value)
        if text and any(c in special for c in text):
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    return delimiter.join(cells) + "\n"


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str = ","
) -> Iterator[bytes]:
    special = _needs_quotes(delimiter)
    buffer = [format_line(header, delimiter, special)]
    size = len(buffer[0])
    for row in rows:
        line = format_line(row, delimiter, special)
        buffer.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()
