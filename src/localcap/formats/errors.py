"""REDCap's error bodies in the three formats (see shared/reference/redcap-api-behaviour.md)."""

from __future__ import annotations

from xml.sax.saxutils import escape

import orjson


def render_error(message: str, fmt: str) -> tuple[bytes, str]:
    """(body, content type) of an error in json, csv or xml (anything else means xml)."""
    if fmt == "json":
        # PHP's json_encode escapes "/" as "\/"; clients parse either.
        body = orjson.dumps({"error": message}).replace(b"/", b"\\/")
        return body, "application/json; charset=utf-8"
    if fmt == "csv":
        return f"ERROR: {message}".encode(), "text/csv; charset=utf-8"
    xml = f'<?xml version="1.0" encoding="UTF-8" ?><hash><error>{escape(message)}</error></hash>'
    return xml.encode(), "text/xml; charset=utf-8"
