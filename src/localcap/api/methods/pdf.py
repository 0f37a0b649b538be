"""Export PDF (``content=pdf``): instruments as a PDF, blank or with a record's or all records' data.

Parameters (REDCap's API documentation; PyCap's ``export_pdf``, REDCapR's
``redcap_instrument_download``, redcapAPI's ``exportPdf``): ``record``, ``event``,
``instrument``, ``repeat_instance``, ``allRecords`` (then record, event and instrument are
ignored, as PyCap documents), ``compactDisplay``. Empty values count as absent (REDCapR sends
``record=""``, ``event=""``, ``instrument=""`` for a blank PDF). What goes on the pages, and
how rights apply, is :mod:`localcap.pdf.content`'s docstring.

The answer: 200, the PDF bytes, ``Content-Type: application/pdf; name="<file>.pdf"`` (PyCap
returns the ``name`` it finds there; no other header carries ``name=``, for REDCapR's sake).
The file name follows REDCap's downloads, as REDCap's feature tests record them (project
"D.115.100", instrument "Data Types"): the project title's letters and digits, then the date
and time of the export, ``D115100_2024-10-11_1226.pdf``; a single blank instrument is
``DataTypes_D115100.pdf``. For a single instrument with data localcap names it
``DataTypes_D115100_2024-10-11_1226.pdf`` (inferred; unrecorded).

Errors (400 unless noted; REDCap's exact wording for these is not recorded, so they reuse the
phrases localcap's other methods take from REDCap), checked in this order:

1. without the API Export right: 403 ``You do not have API Export privileges``;
2. an unknown ``event`` (longitudinal projects; classic projects ignore it):
   ``The event '<e>' is not valid``;
3. an unknown ``instrument``: ``The instrument '<i>' is not valid``; one the user has no form
   access to: 403 ``You do not have access to the instrument '<i>'``;
4. a bad ``repeat_instance``: ``The value of the parameter "repeat_instance" is not valid``;
5. a ``record`` that does not exist, or belongs to another Data Access Group (told apart from a
   missing one by nothing, as Export File does): ``The record "<r>" does not exist``;
6. data (``record`` or ``allRecords``) with "No Access" export rights on every instrument:
   403, the "No Access" message of every export;
7. a PDF of more than :data:`localcap.pdf.render.MAX_PAGES` pages: ``The PDF would have more
   than 2,000 pages...`` (texts longer than :data:`~localcap.pdf.render.MAX_TEXT` characters
   are cut with a note instead).

The work stops when the client disconnects, or when the server is stopping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import TYPE_CHECKING

from starlette.responses import Response

from localcap.actions.export import stored_rows
from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import BAD_INSTANCE, NO_RECORD, new_selection
from localcap.db import records as rows_store
from localcap.files import download_headers
from localcap.model.numbers import MAX_ID, small_int
from localcap.model.project import Event, Project
from localcap.model.selection import require_export_access
from localcap.pdf.content import Page, PageBuilder, Selection, plain_text

if TYPE_CHECKING:
    from localcap.pdf.render import PdfWriter

BAD_EVENT = "The event '{event}' is not valid"
BAD_INSTRUMENT = "The instrument '{instrument}' is not valid"
NO_FORM_ACCESS = "You do not have access to the instrument '{instrument}'"
NOTHING_VISIBLE = (
    "You have no access to any instrument of this project, so there is nothing to show."
)
NO_RECORDS = "There are no records to show."
#: Characters kept from titles in file names, and how many (REDCap: letters and digits).
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
NAME_LENGTH = 30


def _compact_name(text: str, fallback: str) -> str:
    return _NOT_ALNUM.sub("", text)[:NAME_LENGTH] or fallback


def pdf_file_name(
    project_title: str, form_label: str | None, with_data: bool, now: datetime
) -> str:
    """REDCap's download name (see the module docstring)."""
    parts = [_compact_name(form_label, "instrument")] if form_label else []
    parts.append(_compact_name(project_title, "project"))
    if with_data or not form_label:
        parts.append(now.strftime("%Y-%m-%d_%H%M"))
    return "_".join(parts) + ".pdf"


def _event(ctx: ApiContext) -> Event | None:
    name = ctx.request.get("event").strip()
    if not name or not ctx.project.is_longitudinal:
        return None
    event = ctx.project.event_by_name.get(name)
    if event is None:
        raise ApiError(400, BAD_EVENT.format(event=name))
    return event


def _instrument(ctx: ApiContext, builder: PageBuilder) -> str | None:
    name = ctx.request.get("instrument").strip()
    if not name:
        return None
    if name not in ctx.project.form_by_name:
        raise ApiError(400, BAD_INSTRUMENT.format(instrument=name))
    if name not in builder.allowed:
        raise ApiError(403, NO_FORM_ACCESS.format(instrument=name))
    return name


def _instance(ctx: ApiContext) -> int | None:
    text = ctx.request.get("repeat_instance").strip()
    if not text:
        return None
    instance = small_int(text, MAX_ID, minimum=1)
    if instance is None:
        raise ApiError(400, BAD_INSTANCE)
    return instance


def _check_record(ctx: ApiContext, record: str) -> None:
    with ctx.read_snapshot() as conn:
        exists, group_id = rows_store.record_group(conn, ctx.project.project_id, record)
    if not exists or (ctx.group_id is not None and group_id != ctx.group_id):
        raise ApiError(400, NO_RECORD.format(record=record))


def _record_label(project: Project) -> str:
    f = project.field_by_name.get(project.record_id_field)
    return plain_text(f.field_label) if f is not None and f.field_label else "Record ID"


def export_pdf(ctx: ApiContext) -> Response:
    ctx.require_export()
    project, rights, req = ctx.project, ctx.rights, ctx.request
    all_records = req.flag("allRecords")
    builder = PageBuilder(project, rights, compact=req.flag("compactDisplay"))
    event = None if all_records else _event(ctx)
    form = None if all_records else _instrument(ctx, builder)
    instance = None if all_records else _instance(ctx)
    record = "" if all_records else req.get("record").strip()
    with_data = all_records or bool(record)
    if with_data:  # before the record's existence: nothing to learn without rights
        require_export_access(project, rights)
    if record:
        _check_record(ctx, record)

    # Imported here, not at start-up: fpdf2 and HarfBuzz cost every server process about
    # 0.6 s and 40 MB, and most never draw a PDF.
    from localcap.pdf.render import MAX_PAGES, PdfTooLarge, PdfWriter

    writer = PdfWriter(project.project_title, _record_label(project))
    try:
        return _draw(ctx, builder, writer, event, form, instance, record)
    except PdfTooLarge:
        raise ApiError(
            400,
            f"The PDF would have more than {MAX_PAGES:,} pages: ask for fewer pages (one "
            "record, event or instrument at a time) instead of allRecords",
        ) from None


def _until_cancelled(ctx: ApiContext, pages: Iterable[Page]) -> Iterator[Page]:
    """``pages``, until the client goes away: a PDF no one will read is not finished."""
    for page in pages:
        if ctx.request.cancelled.is_set():
            raise ApiError(499, "The client closed the connection before the PDF was ready")
        yield page


def _draw(
    ctx: ApiContext,
    builder: PageBuilder,
    writer: PdfWriter,
    event: Event | None,
    form: str | None,
    instance: int | None,
    record: str,
) -> Response:
    """The PDF of ``record`` (of every record with ``allRecords``; blank without either)."""
    project = ctx.project
    with_data = ctx.request.flag("allRecords") or bool(record)
    if with_data:
        selection = Selection(event.event_id if event else None, form, instance)
        # One state of the data (and of the file names shown) for the whole document.
        doc_names: dict[str, str] = {}
        builder.doc_names = doc_names
        if record:  # pages even where the record has no data yet (an event asked for)
            chosen = new_selection(
                ctx, records=[record], event_ids=[event.event_id] if event else None
            )
            rows = list(stored_rows(ctx.engine, chosen, doc_names))
            writer.add_all(_until_cancelled(ctx, builder.record(record, rows, selection)))
            if ctx.audit is not None:
                ctx.audit.records = [record]
        else:  # record by record: never more than one record's rows in memory
            # closing(): a cancelled or refused PDF ends the query before the snapshot
            with closing(stored_rows(ctx.engine, new_selection(ctx), doc_names)) as all_rows:
                for name, group in groupby(all_rows, key=attrgetter("record")):
                    pages = builder.record(name, list(group), selection)
                    writer.add_all(_until_cancelled(ctx, pages))
    else:
        names = [form] if form else None
        if names is None:
            names = project.forms_in_event(event.event_id) if event else list(project.form_by_name)
        label = project.event_label(event) if event else ""
        writer.add_all(_until_cancelled(ctx, builder.blank(names, label)))
    if writer.pages == 0:
        writer.note(project.project_title, NO_RECORDS if builder.allowed else NOTHING_VISIBLE)

    form_label = project.form_by_name[form].form_label if form else None
    name = pdf_file_name(project.project_title, form_label, with_data, datetime.now())
    headers = download_headers("application/pdf", name)
    return Response(writer.output(), headers=headers)
