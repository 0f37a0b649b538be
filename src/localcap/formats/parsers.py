"""Parsing the ``data`` clients send to imports (JSON, CSV or XML) into rows of strings.

What clients send (their sources): PyCap and redcaplite send a JSON list of objects (PyCap
``json.dumps`` of a list, or a DataFrame as CSV), REDCapR sends CSV, redcapAPI CSV, and PyCap's
project-creation test sends a bare ``<item>...</item>`` XML document with no ``<records>`` root.
All of these are accepted. A single JSON object (not in a list) is accepted as a one-row list:
REDCap itself answers such an import with ``{"count": 0}`` and imports nothing (PyCap issues
#103 and #138), a silent loss we do not reproduce.

Values come back as strings, the way PHP's string conversion (which REDCap applies) turns
decoded JSON scalars into text: ``1`` -> ``"1"``, ``1.5`` -> ``"1.5"``, ``1.0`` -> ``"1"`` (pandas
writes integer columns holding blanks as floats), ``true`` -> ``"1"``, ``false`` and ``null`` ->
``""``. Integers keep the digits the client sent, however long. A nested object or list is
refused (400), except in the columns a caller names (the ``forms`` rights of a user or role
import, ``{"form": level}``), where an object of plain values is returned for the caller to
interpret: REDCap stores text, and printing ``{'a': 1}`` into a record or a user name is wrong
data, not an import.

Every key and value is checked in one place (:func:`check_rows`) for what no database can store
the same way on SQLite and PostgreSQL: a NUL character (PostgreSQL refuses it, SQLite keeps it,
and a record ``9102\x00`` then cannot be selected) and a lone UTF-16 surrogate (``"\ud800"`` in
JSON decodes to a string that is not valid Unicode and cannot be encoded to UTF-8).

XML is parsed with ``defusedxml``: a DTD, entity declarations and external references are
refused outright, so no entity expansion ("billion laughs") and no file or network access.

No REDCap wording for unreadable import data was found in the clients' recorded tests, so the
messages below are our own, written to say what is wrong and where.
"""

from __future__ import annotations

import csv
import io
import json
import math
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from localcap.formats.csv_writer import parse_delimiter
from localcap.model.errors import DomainError


class DataParseError(DomainError, ValueError):
    """The submitted data cannot be read in the format given; the message is for the client.
    Still a ValueError: callers that read data with ``except ValueError`` keep catching it."""


#: How deep an XML import may nest: ``<records><item><field>`` plus one level for the
#: ``<forms><form>level</form></forms>`` of a user import. Deeper documents are refused
#: before any recursion (a 50,000-deep document once ended in a RecursionError).
MAX_XML_DEPTH = 4


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an invalid character (a lone UTF-16 surrogate)"
    return None


def _check_text(text: str, where: str) -> None:
    problem = text_problem(text)
    if problem:
        raise DataParseError(f"{where} {problem}, which is not valid")


def check_json_text(value: Any, where: str = "The data") -> None:
    """Every string (key or value) anywhere in decoded JSON can be stored (no NUL, no lone
    surrogate): for JSON documents read whole, such as report definitions."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item, f"{where} has a text that")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def check_rows(
    rows: list[dict[str, Any]], nested: frozenset[str] = frozenset(), first: int = 1
) -> None:
    """Every key and value of parsed rows is text that can be stored; only the columns in
    ``nested`` may hold an object (of text values). Raises :class:`DataParseError`.
    ``first``: the item number of the first row (rows checked a batch at a time)."""
    for number, row in enumerate(rows, start=first):
        try:
            text = "".join(row) + "".join(row.values())
        except TypeError:  # an object among the values: looked at one by one
            text = "\x00"
        if text.isascii() and "\x00" not in text:
            continue  # ASCII holds no surrogate: the usual row needs no closer look
        for key, value in row.items():
            _check_text(key, f"A column name in item {number}")
            if isinstance(value, str):
                _check_text(value, f"The value of '{key}' in item {number}")
            elif isinstance(value, dict) and key in nested:
                for inner_key, inner in value.items():
                    _check_text(str(inner_key), f"A key inside '{key}' in item {number}")
                    if not isinstance(inner, str):
                        raise DataParseError(
                            f"The value of '{key}' in item {number} must be an object of "
                            "plain values"
                        )
                    _check_text(inner, f"A value inside '{key}' in item {number}")
            else:
                raise DataParseError(
                    f"The value of '{key}' in item {number} is not a string or a number: "
                    "objects and lists cannot be imported"
                )


def php_number(literal: str) -> str:
    """A JSON float literal as PHP's ``(string)`` cast writes the decoded number.

    Integral values print without a fraction (``1.0`` -> ``1``); others use the shortest
    round-trip digits; very large or small magnitudes use PHP's ``1.0E+25`` notation.
    """
    value = float(literal)
    if math.isinf(value) or math.isnan(value):
        raise DataParseError(f"The JSON number {literal} is out of range")
    if value == 0:
        return "0" if math.copysign(1.0, value) > 0 else "-0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" not in text and abs(value) < 1e15:
        return text
    if "e" not in text:  # PHP switches to exponent notation from 1e15 up
        text = str(Decimal(text).normalize()).lower()
    mantissa, exponent = text.split("e")
    if "." not in mantissa:
        mantissa += ".0"
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}E{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def _no_constant(name: str) -> Any:
    raise DataParseError(f"The data is not valid JSON: {name} is not a JSON value")


def _text(value: Any) -> Any:
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    return value  # strings (numbers were turned into strings by the decoder), dicts, lists


def parse_json(text: str) -> list[dict[str, Any]]:
    """A JSON list of objects (or one object) -> rows; see the module notes on values."""
    try:
        data = json.loads(
            text.lstrip("\ufeff"),
            parse_int=str,
            parse_float=php_number,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise DataParseError(
            f"The data is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise DataParseError("The JSON data is nested too deeply") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataParseError("The JSON data must be a list of objects, e.g. [{...},{...}]")
    rows = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataParseError(
                f"The JSON data must be a list of objects, but item {number} is not an object"
            )
        rows.append({str(k): _text(v) for k, v in item.items()})
    return rows


def parse_csv(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    """CSV with a header row -> rows. BOM, CRLF and quoted multi-line values are fine.

    ``delimiter`` may be a character or REDCap's ``csvDelimiter`` value (``tab``...). Blank
    lines are skipped; header names are trimmed (spreadsheets pad them).
    """
    delimiter = parse_delimiter(delimiter)
    reader = csv.reader(
        io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter, strict=True
    )
    reader_rows: list[list[str]] = []
    try:
        for row in reader:
            if row and any(cell != "" for cell in row):
                reader_rows.append(row)
    except csv.Error as exc:
        raise DataParseError(
            f"The CSV data could not be read near line {reader.line_num}: {exc}"
        ) from None
    if not reader_rows:
        raise DataParseError("The CSV data has no header row")
    header = [name.strip() for name in reader_rows[0]]
    for number, name in enumerate(header, start=1):
        if name == "":
            raise DataParseError(f"Column {number} of the CSV header row has no name")
    result = []
    for number, row in enumerate(reader_rows[1:], start=2):
        if len(row) != len(header):
            raise DataParseError(
                f"CSV row {number} has {len(row)} values but the header row has {len(header)}"
            )
        result.append(dict(zip(header, row, strict=True)))
    return result


def _element_value(element: Element, depth: int) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    if depth >= MAX_XML_DEPTH:
        raise DataParseError(
            f"The XML data is nested too deeply (more than {MAX_XML_DEPTH} levels)"
        )
    return {child.tag: _element_value(child, depth + 1) for child in children}


def parse_xml(text: str) -> list[dict[str, Any]]:
    """``<records><item><field>v</field>...</item></records>`` (or a bare ``<item>``) -> rows.

    Values may be plain text or CDATA. Any root element is accepted as the list wrapper.
    """
    try:
        root = SafeET.fromstring(
            text.lstrip("\ufeff \t\r\n"), forbid_dtd=True, forbid_entities=True
        )
    except DefusedXmlException:
        raise DataParseError(
            "XML with a DTD, entity declarations or external references is not accepted"
        ) from None
    except ParseError as exc:
        raise DataParseError(f"The XML data is not well-formed: {exc}") from None
    items = [root] if root.tag == "item" else root.findall("item")
    rows = []
    for item in items:
        row: dict[str, Any] = {}
        for child in item:
            if child.tag in row:
                raise DataParseError(f"An <item> in the XML data has two <{child.tag}> elements")
            row[child.tag] = _element_value(child, 3)
        rows.append(row)
    return rows


def parse_data(
    text: str, fmt: str, delimiter: str = ",", nested: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The ``data`` parameter in ``fmt`` (json, csv; anything else is read as xml) -> rows.

    ``delimiter`` is the import's ``csvDelimiter`` (CSV only); ``nested`` names the columns
    that may hold an object (see :func:`check_rows`). Raises :class:`DataParseError`.
    """
    if fmt == "json":
        rows = parse_json(text)
    elif fmt == "csv":
        rows = parse_csv(text, delimiter)
    else:
        rows = parse_xml(text)
    check_rows(rows, nested)
    return rows
