"""REDCap's error bodies in the three formats (docs/REDCAP_API.md, "Error bodies").

* json: ``{"error":"<msg>"}``, compact, PHP ``json_encode`` escaping (``/`` -> ``\\/``; REDCap's
  recorded 400 body in bcbi/REDCap.jl ``src/Import.jl`` shows ``variable\\/field name``);
* csv: ``ERROR: <msg>`` (REDCapR's recorded expectations);
* xml: ``<?xml version="1.0" encoding="UTF-8" ?><hash><error><msg></error></hash>`` with the
  message XML-escaped, so a record name such as ``a<b`` cannot break the document.

Clients detect errors by body, not status (PyCap: an ``error`` key, a body starting ``error:``,
or ``<error>`` in the body), so these bodies must be exact.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from localcap.formats.json_writer import dumps
from localcap.formats.xml_writer import xml_safe

JSON_TYPE = "application/json; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


def render_error(message: str, fmt: str) -> tuple[bytes, str]:
    """(body, content type) of an error in ``fmt`` json or csv; anything else means xml."""
    if fmt == "json":
        return dumps({"error": message}), JSON_TYPE
    if fmt == "csv":
        return f"ERROR: {message}".encode(), CSV_TYPE
    xml = (
        '<?xml version="1.0" encoding="UTF-8" ?>'
        f"<hash><error>{escape(xml_safe(message))}</error></hash>"
    )
    return xml.encode(), XML_TYPE
