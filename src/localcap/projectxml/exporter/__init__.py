"""Stream a whole project as a REDCap project XML (Export Project XML, ``content=project_xml``).

The layout follows real REDCap exports (the fixtures in ``tests/data/redcap_projects/``): ``Study`` with
``GlobalVariables`` (settings, repeating setup, DAGs, surveys, reports) and
``MetaDataVersion`` (events, forms, item groups, items, code lists), then ``ClinicalData``.
Every data dictionary column goes into ``redcap:`` attributes so that
:mod:`localcap.projectxml.importer` (and REDCap's importer) restore the dictionary exactly.

Two deliberate differences from REDCap, both so that values survive a round trip: line breaks
inside attribute values are written as ``&#13;``/``&#10;`` (REDCap writes them raw, which a
conforming parser turns into spaces), and a CR in element text as ``&#13;``.

Rights are those of Export Records: the export rights level of each instrument removes
fields silently (identifiers for De-Identified / Remove-Identifiers users, and so on), a user
in a Data Access Group sees only that group's records and no ``redcap_data_access_group``
items, and files are written (``ItemDataBase64Binary``) only with ``exportFiles`` and "Full
Data Set" rights on the file's instrument.

The package writes each part in its own module: :mod:`.globalvars` (head and settings),
:mod:`.metadata` (the dictionary), :mod:`.clinical` (the records), from one
:class:`~.context.ExportScope`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from localcap.model.rows import StoredRow
from localcap.projectxml.exporter.clinical import ClinicalDataWriter
from localcap.projectxml.exporter.context import ExportContext, ExportOptions, ExportScope
from localcap.projectxml.exporter.globalvars import GlobalVariablesWriter
from localcap.projectxml.exporter.metadata import MetadataWriter

__all__ = ["ExportContext", "ExportOptions", "write_project_xml"]

CHUNK_BYTES = 1 << 16


def write_project_xml(ctx: ExportContext, rows: Iterable[StoredRow]) -> Iterator[bytes]:
    """The whole document, in ~64 KB chunks (``rows`` is only read if data is exported)."""
    scope = ExportScope(ctx)
    head = GlobalVariablesWriter(scope).head()
    writer = ClinicalDataWriter(scope)
    yield (head + MetadataWriter(scope).metadata() + "</Study>\n").encode()
    if not ctx.options.metadata_only:
        parts = [writer.clinical_head()]
        size = 0
        for piece in writer.clinical_data(rows):
            parts.append(piece)
            size += len(piece)
            if size >= CHUNK_BYTES:
                yield "".join(parts).encode()
                parts, size = [], 0
        parts.append("</ClinicalData>\n")
        yield "".join(parts).encode()
    yield b"</ODM>"
