"""Build a whole project from a REDCap project XML, streaming, in one transaction.

The XML's layout (read off real REDCap exports: ``tests/data/redcap_projects/``, REDCapR's
``inst/test-data/projects/*/project.xml``):

* ``Study/GlobalVariables``: project settings as ``redcap:*`` elements, then groups of
  empty elements: ``RepeatingInstrumentsAndEvents``, ``DataAccessGroupsGroup``,
  ``SurveysGroup``, ``SurveysQueueGroup``, ``UserRolesGroup``, ``ReportsGroup`` ...
* ``Study/MetaDataVersion``: ``Protocol`` (event order), ``StudyEventDef`` (events with arm,
  offsets and their ``FormRef`` instruments), ``FormDef`` -> ``ItemGroupRef`` ->
  ``ItemGroupDef`` -> ``ItemRef`` (the field order), ``ItemDef`` (one per export column; the
  ``redcap:`` attributes carry the data dictionary columns), ``CodeList`` (choices).
* ``ClinicalData``: ``SubjectData`` per record -> ``StudyEventData`` (longitudinal only) ->
  ``FormData`` -> ``ItemGroupData`` -> ``ItemData Value=`` / ``ItemDataBase64Binary``.

The design is small and collected in memory; the project is created when ``</Study>`` is
read, then records are checked and written in batches of subjects as they stream past (the
checks are Import Records' own, so the same data rules hold), and files are decoded through
a spooled temporary file into the file store. Everything happens inside the caller's
transaction; :func:`import_project_xml` deletes stored file bytes again if anything fails,
so a refused file leaves nothing behind.

What localcap cannot represent is listed in :attr:`ImportResult.warnings`, never dropped
silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from localcap.files.store import FileStore
from localcap.projectxml.importer.clinical import ClinicalDataReader
from localcap.projectxml.importer.create import ProjectBuilder
from localcap.projectxml.importer.design import Cursor, DesignReader
from localcap.projectxml.importer.files import READ_CHUNK
from localcap.projectxml.importer.reports import report_from_attrs
from localcap.projectxml.importer.warninglist import Warnings
from localcap.projectxml.safexml import ProjectXmlError, SafeXmlReader

__all__ = ["READ_CHUNK", "ImportResult", "import_project_xml", "report_from_attrs"]


@dataclass
class ImportResult:
    project_id: int
    token: str
    records: int
    files: int
    warnings: list[str]


class ProjectXmlImporter:
    """The SAX-style consumer of :class:`SafeXmlReader` events: it keeps the element stack
    and text, and hands each event to the design reader until the project exists, then to
    the clinical-data reader."""

    def __init__(
        self,
        conn: Connection,
        file_store: FileStore,
        *,
        title: str | None,
        info: dict[str, Any],
        username: str,
    ) -> None:
        self.conn = conn
        self.file_store = file_store
        self.title_override = (title or "").strip()
        self.base_info = info
        self.username = username
        self.warnings = Warnings()
        self.cursor = Cursor()
        self.design = DesignReader(self.cursor, self.warnings, self._create_project)
        self.data: ClinicalDataReader | None = None
        self.token = ""
        self.reader = SafeXmlReader(self.start, self.end, self.text)

    @property
    def line(self) -> int:
        return self.cursor.line

    @property
    def stored_keys(self) -> list[str]:
        return self.data.stored_keys if self.data is not None else []

    def start(self, name: str, attrs: dict[str, str], line: int) -> None:
        cursor = self.cursor
        cursor.line = line
        if self.data is not None:  # the clinical data: no parent needed
            cursor.stack.append(name)
            self.data.start(name, attrs)
            return
        parent = cursor.stack[-1] if cursor.stack else ""
        cursor.stack.append(name)
        self.design.start(name, parent, attrs)

    def end(self, name: str) -> None:
        cursor = self.cursor
        cursor.stack.pop()
        if self.data is not None:
            cursor.text_parts = None  # (the clinical data collects no text)
            self.data.end(name)
            return
        parent = cursor.stack[-1] if cursor.stack else ""
        text = None
        if cursor.text_parts is not None:
            text = "".join(cursor.text_parts)
            cursor.text_parts = None
        self.design.end(name, parent, text)

    def text(self, data: str) -> None:
        if self.data is not None and self.data.file is not None:
            self.data.file.write(data)
        elif self.cursor.text_parts is not None:
            self.cursor.text_parts.append(data)

    def _create_project(self) -> None:
        if self.data is not None:
            return
        builder = ProjectBuilder(
            self.conn,
            self.design.design,
            self.warnings,
            self.title_override,
            self.base_info,
            self.username,
        )
        created = builder.create()
        self.token = created.token
        self.data = ClinicalDataReader(
            self.conn, self.file_store, created.project, self.cursor, self.warnings
        )
        self.reader.shortcut("ItemData", self.data.item)

    def finish(self) -> ImportResult:
        self._create_project()
        assert self.data is not None
        self.data.flush()
        return ImportResult(
            self.data.project.project_id,
            self.token,
            self.data.record_count,
            self.data.file_count,
            self.warnings.as_list(),
        )


def import_project_xml(
    conn: Connection,
    file_store: FileStore,
    chunks: Iterable[bytes],
    *,
    username: str,
    title: str | None = None,
    info: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a whole project XML inside the caller's transaction (``conn``).

    Raises :class:`ProjectXmlError` for anything invalid; the caller must then roll back.
    File bytes already written to the store are deleted here on failure (they were never
    committed), so nothing of a refused import remains.
    """
    base = dict(info or {})
    base.setdefault("creation_time", datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
    importer = ProjectXmlImporter(conn, file_store, title=title, info=base, username=username)
    reader = importer.reader
    try:
        for chunk in chunks:
            reader.feed(chunk)
            if progress is not None:
                progress(len(chunk))
        reader.close()
        if not reader.seen_root:
            raise ProjectXmlError("The file is empty")
        return importer.finish()
    except BaseException as exc:
        for key in importer.stored_keys:
            with contextlib.suppress(Exception):  # the original error matters more
                file_store.delete(key)
        if isinstance(exc, ProjectXmlError) and exc.line is None and importer.line:
            exc.line = importer.line
        raise
