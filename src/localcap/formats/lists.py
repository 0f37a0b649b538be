"""Small lists (metadata, arms, events, DAGs, users, ...) rendered in json, csv or xml.

Built on the streaming writers so every export shares one set of byte rules; these lists are
small, so the body is joined into one ``bytes``.

In JSON a value keeps its Python type (REDCap sends some ids and flags as numbers: PyCap's
doctests record ``'arm_num': 1``), so pass ints where REDCap sends numbers; csv and xml are
text anyway (``str`` is applied, ``None`` is blank).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from localcap.formats.csv_writer import write_csv
from localcap.formats.json_writer import write_json
from localcap.formats.xml_writer import write_xml_records

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}


def render_records(
    items: Sequence[Mapping[str, object]], fmt: str, header: Sequence[str] | None = None
) -> tuple[bytes, str]:
    """(body, content type) for ``items`` in ``fmt`` (json/csv; anything else means xml).

    ``header`` fixes the columns and their order (a missing key is blank); without it the first
    item's keys are used. An empty list gives ``[]`` (json), the header line alone (csv; REDCap
    exports a header even with no rows, e.g. the DAG list) or an empty ``<records>`` (xml).
    """
    keys = list(header) if header is not None else (list(items[0]) if items else [])
    if fmt == "json":
        rows = [[_json_cell(item.get(k, "")) for k in keys] for item in items]
        body = b"".join(write_json(keys, rows))  # type: ignore[arg-type]
        return body, CONTENT_TYPES["json"]
    text_rows = [[_text_cell(item.get(k, "")) for k in keys] for item in items]
    if fmt == "csv":
        return b"".join(write_csv(keys, text_rows)), CONTENT_TYPES["csv"]
    return b"".join(write_xml_records(keys, text_rows)), CONTENT_TYPES["xml"]


def _json_cell(value: object) -> object:
    return "" if value is None else value


def _text_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else str(value)
