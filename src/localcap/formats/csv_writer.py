"""CSV exactly as PHP's ``fputcsv`` writes it (REDCap's exports are PHP).

PHP's rule (php-src ``ext/standard/file.c``, ``php_fputcsv``, and the PHP manual): a field is
enclosed in double quotes only when it contains the delimiter, the enclosure ``"``, the escape
character (``\\`` by default, and REDCap uses the default), LF, CR, tab or space. Inside a
quoted field every ``"`` is doubled; every line ends with ``\\n``; an empty value is written as
nothing at all (never ``""``). So ``a b`` -> ``"a b"``, ``C:\\x`` -> ``"C:\\x"``, ``""`` -> ``""``
written as an empty cell.

One PHP quirk is deliberately not reproduced: PHP does not double a ``"`` that directly follows
the escape character (``a\\"b`` is written ``"a\\"b"``). That output is ambiguous to every
RFC 4180 reader (Python, R, pandas, Excel all misread it), and REDCap's clients all use such
readers, so we double the quote (``"a\\""b"``): the value round-trips everywhere.

Speed: Python's C ``csv`` writer quotes a value when it holds any character of the line
terminator, so writing with the terminator ``" \\t\\\\\\r\\n"`` makes it quote on exactly PHP's
characters (plus the delimiter and the quote, which it always quotes on); each batch's
terminators are then turned back into ``\\n``. A batch whose values themselves contain that
terminator sequence (detected by counting) is rewritten the slow way.
"""

from __future__ import annotations

import csv
import io
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

#: Flush to the HTTP layer once this many bytes are buffered.
CHUNK_BYTES = 1 << 16
#: REDCap's ``csvDelimiter`` values (``tab`` is spelled out in the API; a literal tab is
#: accepted too, as some clients send the character).
DELIMITERS = {",": ",", "tab": "\t", "\t": "\t", ";": ";", "|": "|", "^": "^"}
TERMINATOR = " \t\\\r\n"

Cell = str | int


def parse_delimiter(value: str | None) -> str:
    """The delimiter character for a ``csvDelimiter`` parameter.

    REDCap accepts ``,`` ``tab`` ``;`` ``|`` ``^``; anything else (including blank, which
    REDCapR sends by default) falls back to a comma rather than raising an error.
    """
    if value is None:
        return ","
    key = value if value == "\t" else value.strip().lower()
    return DELIMITERS.get(key, ",")


def needs_quotes(delimiter: str) -> Callable[[str], object]:
    """A predicate: does PHP's ``fputcsv`` enclose this value (for this delimiter)?"""
    return re.compile("[" + re.escape(delimiter + '"\\\r\n\t ') + "]").search


def format_line(values: Sequence[object], delimiter: str, needs: Callable[[str], object]) -> str:
    """One CSV line, the straightforward way (header, and batches the fast path cannot trust)."""
    cells = ["" if v is None else v if v.__class__ is str else str(v) for v in values]
    return (
        delimiter.join(['"' + c.replace('"', '""') + '"' if needs(c) else c for c in cells]) + "\n"
    )


def _fast_batch(rows: list[Sequence[object]], delimiter: str) -> str | None:
    if rows and len(rows[0]) == 1 and any(row[0] in ("", None) for row in rows):
        return None  # the csv module writes a lone empty field as ``""``; PHP writes nothing
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


class _Hinted:
    """Rows whose caller knows which columns hold only plain values (numbers, dates, codes):
    those are checked with one search over their joined text per row, and only the other
    columns are looked at one by one (faster than the C writer, which scans every character
    of every cell against the line terminator)."""

    def __init__(self, width: int, plain: Sequence[int], delimiter: str) -> None:
        plain_set = set(plain)
        self.unsafe = [i for i in range(width) if i not in plain_set]
        self.plain_cells = _getter(plain)
        self.unsafe_cells = _getter(self.unsafe)
        self.needs = needs_quotes(delimiter)
        #: What calls for quotes but a space.
        self.needs_but_space = re.compile("[" + re.escape(delimiter + '"\\\r\n\t') + "]").search

    def batch(self, rows: list[Sequence[object]], delimiter: str) -> str:
        lines = []
        for row in rows:
            try:
                lines.append(self._line(list(row), delimiter))  # type: ignore[arg-type]
            except TypeError:  # an int cell (the repeat instance): written as its text
                lines.append(self._line(list(map(str, row)), delimiter))
        lines.append("")
        return "\n".join(lines)

    def _line(self, cells: list[str], delimiter: str) -> str:
        """One line without its end (cells must be strings: an int raises TypeError).

        Text most often needs quotes for its spaces alone: when the row's other cells hold
        no other character that calls for quotes (one search over their joined text), a
        cell is quoted when it holds a space (a ``in`` test, much cheaper than a search)."""
        needs = self.needs
        if needs("".join(self.plain_cells(cells))):  # a "plain" value that is not
            return format_line(cells, delimiter, needs)[:-1]
        unsafe = self.unsafe_cells(cells)
        if self.needs_but_space("".join(unsafe)) is None:
            for i, cell in zip(self.unsafe, unsafe, strict=True):
                if " " in cell:
                    cells[i] = '"' + cell + '"'
        else:
            for i, found in zip(self.unsafe, map(needs, unsafe), strict=True):
                if found:
                    cells[i] = '"' + cells[i].replace('"', '""') + '"'
        return delimiter.join(cells)


def _getter(indices: Sequence[int]) -> Callable[[Sequence[str]], Sequence[str]]:
    """The cells at ``indices``, as a sequence (``itemgetter`` of one index returns the cell)."""
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    return lambda cells: [cells[i] for i in indices]


def _encode(
    batch: list[Sequence[object]],
    delimiter: str,
    needs: Callable[[str], object],
    hinted: _Hinted | None = None,
) -> bytes:
    if hinted is not None:
        return hinted.batch(batch, delimiter).encode()
    text = _fast_batch(batch, delimiter)
    if text is None:
        text = "".join(format_line(row, delimiter, needs) for row in batch)
    return text.encode()


def write_csv(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    delimiter: str = ",",
    plain_columns: Sequence[int] | None = None,
    header_alone: bool = True,
) -> Iterator[bytes]:
    """Stream ``header`` and ``rows`` as REDCap's CSV, in UTF-8 chunks of about 64 KB.

    An empty ``rows`` gives the header line alone (REDCap's empty report), or, with
    ``header_alone`` false, an empty body (REDCap's Export Records). ``delimiter`` is a
    character (use :func:`parse_delimiter` for the API parameter). ``plain_columns``, a speed
    hint, names the columns that should hold only characters that never need quoting (cells
    must then be ``str`` or ``int``); a row where one does not is still written correctly.
    """
    needs = needs_quotes(delimiter)
    hinted = _Hinted(len(header), plain_columns, delimiter) if plain_columns is not None else None
    pending: list[bytes] = [format_line(header, delimiter, needs).encode()]
    size = len(pending[0])
    batch: list[Sequence[object]] = []
    batch_rows = 64  # adapted to the row width after the first batch
    empty = True
    for row in rows:
        empty = False
        batch.append(row)
        if len(batch) >= batch_rows:
            data = _encode(batch, delimiter, needs, hinted)
            batch_rows = max(1, min(4096, CHUNK_BYTES * len(batch) // max(1, len(data))))
            batch = []
            pending.append(data)
            size += len(data)
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if batch:
        pending.append(_encode(batch, delimiter, needs, hinted))
    if empty and not header_alone:
        return
    if pending:
        yield b"".join(pending)
