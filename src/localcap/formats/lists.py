"""Small lists (metadata, arms, events, users...) rendered in json, csv or xml."""

from __future__ import annotations

from collections.abc import Sequence

from localcap.formats.csv_writer import write_csv
from localcap.formats.json_writer import write_json
from localcap.formats.xml_writer import write_xml_records

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}


def render_records(
    items: Sequence[dict[str, str]], fmt: str, header: Sequence[str] | None = None
) -> tuple[bytes, str]:
    keys = list(header) if header is not None else (list(items[0]) if items else [])
    rows = ([item.get(k, "") for k in keys] for item in items)
    writer = {"json": write_json, "csv": write_csv}.get(fmt, write_xml_records)
    body = b"".join(writer(keys, rows))
    return body, CONTENT_TYPES.get(fmt, CONTENT_TYPES["xml"])
