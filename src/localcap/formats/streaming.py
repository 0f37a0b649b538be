"""Reading a big ``data`` parameter row by row, as :mod:`localcap.formats.parsers` reads it whole.

Why: a 100,000-record import is a 150 MB body; parsed whole it is a list of 100,000 dicts (a
few GB). Read here it is a stream of rows taken from pieces of text
(:meth:`localcap.api.request.ApiRequest.text_chunks`), so the caller can check and write
them in bounded batches and memory stays flat whatever the size.

Each reader gives the rows :func:`~localcap.formats.parsers.parse_data` would give, with the
same checks (:func:`~localcap.formats.parsers.check_rows`, item by item) and the same
messages for what it refuses (a CSV row of the wrong width, a JSON item that is not an
object, a DTD in XML). A syntax error is found when the reader reaches it, so it is raised
after the rows before it were handed out: the caller's all-or-nothing transaction is what
keeps those rows from being written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any
from xml.etree.ElementTree import Element, ParseError, iterparse

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from localcap.formats.csv_writer import parse_delimiter
from localcap.formats.parsers import (
    DataParseError,
    _element_value,
    _no_constant,
    _text,
    check_rows,
    php_number,
)

Row = dict[str, Any]
_JSON_SPACE = " \t\n\r"
_NUMBER_TAIL = "0123456789.eE+-"


class DataRows:
    """The rows of a ``data`` parameter given in pieces (:func:`iter_data_rows`), read as
    they are iterated: dicts (column -> value), or, once :attr:`columns` is known, lists.

    ``columns``: once a CSV's header is read, its columns (when their names are distinct).
    Each row is then the list of its text values in this order: a checker of many rows looks
    at the columns once, and no dict is built per row (``None`` for JSON and XML, whose
    items may each name other keys, and for a CSV header naming a column twice, whose rows
    are dicts in which the last such column wins, as in :func:`parse_data`)."""

    def __init__(
        self, chunks: Iterable[str], fmt: str, delimiter: str, nested: frozenset[str]
    ) -> None:
        self.columns: tuple[str, ...] | None = None
        self._header: list[str] = []
        self._positions: dict[str, int] = {}
        self._rows = self._checked(chunks, fmt, delimiter, nested)

    def __iter__(self) -> Iterator[Row | list[str]]:
        return self._rows

    def __next__(self) -> Row | list[str]:
        return next(self._rows)

    def value_getter(self, name: str) -> Callable[[Row | list[str]], Any]:
        """A function giving a row's value of the column ``name`` (None if it has none)."""

        def value(row: Row | list[str]) -> Any:
            if row.__class__ is list:
                at = self._positions.get(name)
                return None if at is None else row[at]
            return row.get(name)  # type: ignore[union-attr]

        return value

    def _on_header(self, header: list[str]) -> None:
        self._header = header
        if len(set(header)) == len(header):
            self.columns = tuple(header)
            self._positions = {name: at for at, name in enumerate(header)}

    def _checked(
        self, chunks: Iterable[str], fmt: str, delimiter: str, nested: frozenset[str]
    ) -> Iterator[Row | list[str]]:
        rows: Iterator[Row | list[str] | DataParseError]
        if fmt == "json":
            rows = _json_rows(chunks)
        elif fmt == "csv":
            rows = _csv_rows(chunks, delimiter, self._on_header)
        else:
            rows = _xml_rows(chunks)
        # The whole-text parsers refuse a broken document before a bad item, and a bad item
        # before a bad value: once a problem is found, the rest is only read (for a syntax
        # error, which wins), and the problem is raised at the end.
        shape_problem: DataParseError | None = None
        value_problem: DataParseError | None = None
        for number, row in enumerate(rows, start=1):
            if isinstance(row, DataParseError):
                shape_problem = shape_problem or row
                continue
            if shape_problem or value_problem:
                continue
            if isinstance(row, list):  # a CSV row
                if self.columns is not None and number > 1 and _plain("".join(row)):
                    yield row  # (plain text needs no closer look; its header was checked)
                    continue
                row_dict = dict(zip(self._header, row, strict=True))
            else:
                row_dict = row
            try:
                check_rows([row_dict], nested, first=number)
            except DataParseError as exc:
                value_problem = exc
                continue
            yield row_dict if self.columns is None else row
        if shape_problem or value_problem:
            raise shape_problem or value_problem  # type: ignore[misc]


def iter_data_rows(
    chunks: Iterable[str], fmt: str, delimiter: str = ",", nested: frozenset[str] = frozenset()
) -> DataRows:
    """The rows of a ``data`` parameter given in pieces (json, csv; anything else is xml)."""
    return DataRows(chunks, fmt, delimiter, nested)


def _without_bom(chunks: Iterable[str], strip: str = "\ufeff") -> Iterator[str]:
    """The pieces, the leading characters in ``strip`` removed (as ``text.lstrip(strip)``)."""
    started = False
    for chunk in chunks:
        if not started:
            chunk = chunk.lstrip(strip)
            started = bool(chunk)
        if chunk:
            yield chunk


# -- CSV ------------------------------------------------------------------------------------
def _lines(chunks: Iterable[str]) -> Iterator[str]:
    """The lines of the text (each with its ending), split where ``io.StringIO(text,
    newline="")`` splits them: at CR, LF and CRLF. A piece is cut after its last line end
    (a final CR waits for the next piece, which may start with LF). The lines come from
    each block's own iterator, chained in C: no Python step per line."""
    return chain.from_iterable(_line_blocks(chunks))


def _line_blocks(chunks: Iterable[str]) -> Iterator[io.StringIO]:
    pending = ""
    for chunk in chunks:
        pending += chunk
        cut = max(pending.rfind("\n"), pending.rfind("\r", 0, len(pending) - 1)) + 1
        if cut:
            yield io.StringIO(pending[:cut], newline="")
            pending = pending[cut:]
    if pending:
        yield io.StringIO(pending, newline="")


def _plain(text: str) -> bool:
    """ASCII without NUL: nothing :func:`check_rows` could refuse."""
    return text.isascii() and "\x00" not in text


def _csv_rows(
    chunks: Iterable[str], delimiter: str, on_header: Callable[[list[str]], None]
) -> Iterator[list[str] | DataParseError]:
    """The header (given to ``on_header``), then each row as the list of its values."""
    reader = csv.reader(
        _lines(_without_bom(chunks)), delimiter=parse_delimiter(delimiter), strict=True
    )
    header: list[str] | None = None
    number = 1  # the row's number among the non-blank rows, the header being 1
    failed = False  # a problem was handed out: the rest is only read
    try:
        for row in reader:
            if failed or not any(row):  # (a blank line, or only empty cells)
                continue
            if header is None:
                header = [name.strip() for name in row]
                for column, name in enumerate(header, start=1):
                    if name == "" and not failed:
                        failed = True
                        yield DataParseError(f"Column {column} of the CSV header row has no name")
                on_header(header)
                continue
            number += 1
            if len(row) != len(header):
                failed = True
                yield DataParseError(
                    f"CSV row {number} has {len(row)} values but the header row has {len(header)}"
                )
                continue
            yield row
    except csv.Error as exc:
        raise DataParseError(
            f"The CSV data could not be read near line {reader.line_num}: {exc}"
        ) from None
    if header is None:
        raise DataParseError("The CSV data has no header row")


# -- JSON -----------------------------------------------------------------------------------
class _JsonItems:
    """The items of a JSON list read from pieces of text, one ``raw_decode`` per item; the
    text before the current item is dropped, its lines counted for error positions."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self.chunks = iter(_without_bom(chunks))
        self.buffer = ""
        self.pos = 0
        self.dropped_lines = 0  # line ends in the text dropped so far
        self.dropped_col = 0  # characters after the last line end dropped
        self.done = False
        self.decoder = json.JSONDecoder(
            parse_int=str, parse_float=php_number, parse_constant=_no_constant
        )

    def _more(self) -> bool:
        """Read one more piece; False at the end of the text."""
        chunk = next(self.chunks, None)
        if chunk is None:
            self.done = True
            return False
        head = self.buffer[: self.pos]
        newlines = head.count("\n")
        if newlines:
            self.dropped_lines += newlines
            self.dropped_col = len(head) - head.rfind("\n") - 1
        else:
            self.dropped_col += len(head)
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        return True

    def _error(self, message: str, pos: int) -> DataParseError:
        before = self.buffer[:pos]
        newlines = before.count("\n")
        line = self.dropped_lines + newlines + 1
        column = pos - before.rfind("\n") if newlines else self.dropped_col + pos + 1
        return DataParseError(
            f"The data is not valid JSON: {message} (line {line}, column {column})"
        )

    def _skip_space(self) -> str:
        """The next character that is not JSON white space ("" at the end of the text)."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _JSON_SPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def _value(self) -> Any:
        """Decode the value at the current position, reading more text until it is whole."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise self._error(exc.msg, exc.pos) from None
            except RecursionError:
                raise DataParseError("The JSON data is nested too deeply") from None
            if self._may_go_on(end) and not self.done and self._more():
                continue  # a number (1, 1e, 1e5) may go on in the next piece
            self.pos = end
            return value

    def _may_go_on(self, end: int) -> bool:
        """Whether everything after ``end`` could still belong to the value (only characters
        a number may go on with); looked at up to the first that cannot, usually the next."""
        buffer, size = self.buffer, len(self.buffer)
        while end < size and buffer[end] in _NUMBER_TAIL:
            end += 1
        return end == size

    def items(self) -> Iterator[Any]:
        first = self._skip_space()
        if first != "[":  # one object (or not a list at all): read as a whole
            value = self._value()
            if self._skip_space():
                raise self._error("Extra data", self.pos)
            if not isinstance(value, dict):
                raise DataParseError("The JSON data must be a list of objects, e.g. [{...},{...}]")
            yield value
            return
        self.pos += 1
        if self._skip_space() == "]":
            self.pos += 1
        else:
            while True:
                yield self._value()
                separator = self._skip_space()
                if separator == "]":
                    self.pos += 1
                    break
                if separator != ",":
                    raise self._error("Expecting ',' delimiter", self.pos)
                self.pos += 1
                self._skip_space()
        if self._skip_space():
            raise self._error("Extra data", self.pos)


def _json_rows(chunks: Iterable[str]) -> Iterator[Row | DataParseError]:
    items = _JsonItems(chunks)
    for number, item in enumerate(items.items(), start=1):
        if not isinstance(item, dict):
            yield DataParseError(
                f"The JSON data must be a list of objects, but item {number} is not an object"
            )
            continue
        try:
            "".join(item.values())  # (every value text, the usual item: taken as it is)
        except TypeError:
            item = {k: _text(v) for k, v in item.items()}
        yield item


# -- XML ------------------------------------------------------------------------------------
class _TextReader(io.RawIOBase):
    """Pieces of text as a binary file (UTF-8), for :func:`iterparse`."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self.chunks = iter(chunks)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                return 0
            self.pending = chunk.encode("utf-8")
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _item_row(item: Element) -> Row | DataParseError:
    row: Row = {}
    try:
        for child in item:
            if child.tag in row:
                raise DataParseError(f"An <item> in the XML data has two <{child.tag}> elements")
            row[child.tag] = _element_value(child, 3)
    except DataParseError as problem:
        return problem
    return row


def _xml_rows(chunks: Iterable[str]) -> Iterator[Row | DataParseError]:
    """``<records><item>...</item>...</records>`` (or one bare ``<item>``), an item at a
    time: each ``<item>`` under the root is read when it ends and then dropped."""
    source = io.BufferedReader(_TextReader(_without_bom(chunks, "\ufeff \t\r\n")))
    parser = DefusedXMLParser(forbid_dtd=True, forbid_entities=True)
    depth = 0
    root: Element | None = None
    try:
        for event, element in iterparse(source, events=("start", "end"), parser=parser):
            if event == "start":
                depth += 1
                root = element if root is None else root
                continue
            depth -= 1
            assert root is not None
            if depth == 0 and root.tag == "item":  # a bare <item> document
                yield _item_row(element)
            elif depth == 1 and root.tag != "item":  # a child of the root, done with
                if element.tag == "item":
                    yield _item_row(element)
                root.remove(element)
    except DefusedXmlException:
        raise DataParseError(
            "XML with a DTD, entity declarations or external references is not accepted"
        ) from None
    except ParseError as exc:
        raise DataParseError(f"The XML data is not well-formed: {exc}") from None
