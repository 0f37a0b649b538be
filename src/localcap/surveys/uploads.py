"""Files posted with a survey page, in Import File's durability order.

The bytes go to the file store (through the same use case as the API's Import File) before
the project's write lock is taken, the save attaches those its visible upload fields take,
and whatever no committed row refers to is deleted again afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from starlette.datastructures import UploadFile

from localcap.actions.uploads import StoredUpload, put_upload
from localcap.db import documents as docs
from localcap.surveys.response import (
    REQUIRED_MESSAGE,
    attach_files,
    participant_row,
    read_submission,
    upload_fields,
)
from localcap.surveys.survey_page import SurveyPage

if TYPE_CHECKING:
    from localcap.files.store import FileStore


@dataclass
class Uploads:
    """The files posted with a page and what became of them, in Import File's durability
    order: bytes put in the file store before the project's write lock is taken (``stored``,
    by field; deleted again unless the save commits and refers to them, ``attached``) and
    replaced bytes to delete once it has (``replaced``)."""

    files: dict[str, UploadFile]
    store: FileStore | None = None
    stored: dict[str, StoredUpload] = field(default_factory=dict)
    attached: set[str] = field(default_factory=set)
    replaced: list[str] = field(default_factory=list)

    def put(self, page: SurveyPage, form: dict[str, list[str]]) -> None:
        """Write the files posted for the upload fields these answers show to the store. Done
        before the write transaction: a 32 MB upload to S3 must not keep every other writer
        waiting (SQLite's write lock is the whole database's). The save checks again, under
        the lock, which of them it attaches."""
        if self.store is None:
            return
        visible = page.visible(read_submission(page.project, page.form_name, form))
        for f in upload_fields(page.project, page.form_name):
            upload = self.files.get(f.field_name)
            if f.field_name in visible and upload is not None and upload.filename:
                self.stored[f.field_name] = put_upload(self.store, upload)

    def unused(self) -> list[str]:
        """Stored bytes no committed row refers to."""
        return [s.key for s in self.stored.values() if s.key not in self.attached]


def attach_uploads(conn: Connection, page: SurveyPage, uploads: Uploads, visible: set[str]) -> None:
    """Save the files posted for the page's visible upload fields (their bytes already in the
    store, with Import File's mime sniffing), each a new ``documents`` row the field points
    at."""
    chosen = {
        f.field_name: uploads.stored[f.field_name]
        for f in upload_fields(page.project, page.form_name)
        if f.field_name in visible and f.field_name in uploads.stored
    }
    if not chosen:
        return
    pid = page.project.project_id
    documents = {}
    for name, stored in chosen.items():
        documents[name] = stored.insert(conn, pid)
        uploads.attached.add(stored.key)
    for old in attach_files(conn, page.project, page.participant, documents):
        removed = docs.delete_document(conn, pid, old)
        if removed is not None:
            uploads.replaced.append(removed.store_key)


def missing_files(page: SurveyPage, uploads: Uploads, visible: set[str]) -> dict[str, str]:
    """Required upload fields shown on the page with no file stored and none posted."""
    stored = participant_row(page.project, page.participant, page.rows)
    return {
        f.field_name: REQUIRED_MESSAGE
        for f in upload_fields(page.project, page.form_name)
        if f.required_field.strip().lower() == "y"
        and f.field_name in visible
        and not stored.get(f.field_name)
        and not (f.field_name in uploads.files and uploads.files[f.field_name].filename)
    }
