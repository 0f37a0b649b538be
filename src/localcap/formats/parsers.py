"""Parsing the ``data`` clients send to imports: JSON, CSV or XML, into rows of strings.

XML is parsed safely: documents with a DTD (``<!DOCTYPE``/``<!ENTITY``) are refused outright,
so there is no entity expansion and no external entity can be fetched.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from typing import Any

import orjson

_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class DataParseError(ValueError):
    """The submitted data cannot be read in the format given."""


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return value  # strings, and nested dicts (user rights' forms) stay as they are


def parse_json(text: str) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise DataParseError(f"The data is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise DataParseError("The JSON data must be a list of objects")
    return [{str(k): _text(v) for k, v in item.items()} for item in data]


def parse_csv(text: str, delimiter: str = ",") -> list[dict[str, Any]]:
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise DataParseError(f"The CSV data could not be read: {exc}") from None
    if not rows:
        raise DataParseError("The CSV data has no header row")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise DataParseError("The CSV header row names a column more than once")
    result = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataParseError(
                f"CSV line {number} has {len(row)} values but the header has {len(header)}"
            )
        result.append(dict(zip(header, row, strict=True)))
    return result


def parse_xml(text: str) -> list[dict[str, Any]]:
    if _DTD.search(text):
        raise DataParseError("XML with a DTD or entity declarations is not accepted")
    try:
        root = ET.fromstring(text.strip().encode())
    except ET.ParseError as exc:
        raise DataParseError(f"The XML data is not well-formed: {exc}") from None
    items = root.findall("item") if root.tag != "item" else [root]
    return [{child.tag: child.text or "" for child in item} for item in items]


def parse_data(text: str, fmt: str, delimiter: str = ",") -> list[dict[str, Any]]:
    if fmt == "json":
        return parse_json(text)
    if fmt == "csv":
        return parse_csv(text, delimiter)
    return parse_xml(text)
