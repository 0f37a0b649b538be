"""The File Repository (``content=fileRepository``): createFolder, list, export, import, delete.

The project-wide file store beside the records. What clients rely on, and the decisions taken
where REDCap's behaviour is not recorded anywhere we could find:

* Rights: ``list`` and ``export`` need API Export, the others API Import/Update, and all of
  them the user right "File Repository" (REDCap's API documentation). Without it: 403 in the
  words localcap uses for the other per-module rights (REDCap's exact text is unrecorded).
* A folder limited to a DAG is visible to the users in that DAG and to users in no DAG (who
  see every DAG's records in REDCap); a folder limited to a role only to the users in that
  role. A folder is reachable only if it *and every folder above it* is visible, so a hidden
  folder hides everything inside it. Whatever cannot be seen is reported exactly like what
  does not exist (the folder message was recorded from real REDCap by REDCapR's tests), so a
  user cannot learn that it exists.
* ``list`` answers the folders first, then the files, each by name (case-insensitively): the
  doctests PyCap recorded against real REDCap list "New Folder" before the earlier created
  "test". In JSON a folder is ``{"folder_id": N, "name": ..}`` with ``role`` (unique role
  name) and ``dag`` (unique group name) only when it is limited, a file ``{"doc_id": N,
  "name": ..}``; CSV has REDCap 16.0.8's fixed header ``folder_id,doc_id,name,role,dag``
  (REDCapR's and redcapAPI's recorded listings). XML carries the JSON items.
* ``createFolder`` answers ``[{"folder_id": N}]``. A ``dag_id`` must be one of the project's
  DAGs and, for a user in a DAG, their own (a user cannot make a folder for another group);
  a ``role_id`` must be one of the project's roles. Names are at most 150 characters.
* ``export`` streams the bytes exactly as Export File does; ``import`` stores them in the same
  file store, bytes first, database second (see :mod:`localcap.actions.uploads`), and
  answers empty like Import File. ``delete`` moves the file to REDCap's Recycle Bin: it is
  marked deleted and disappears from ``list``/``export``, its bytes are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import (
    delete_bytes,
    document_response,
    dropped_on_failure,
    empty_answer,
    list_response,
    required_upload,
    store_upload,
)
from localcap.db import repository as repo
from localcap.db.repository import Folder, RepositoryFile
from localcap.formats.json_writer import dumps
from localcap.formats.lists import CONTENT_TYPES, render_records
from localcap.formats.xml_writer import write_xml_items
from localcap.model.audit import bounded, printable
from localcap.model.numbers import MAX_ID, small_int

NO_FILE_REPOSITORY = (
    "You do not have permissions to use this method: File Repository privileges are required"
)
FOLDER_NOT_FOUND = (
    "The File Repository folder folder_id={folder_id} does not exist or else you do not have "
    "permission to that folder because it is DAG-restricted or Role-restricted."
)
FILE_NOT_FOUND = (
    "The File Repository file doc_id={doc_id} does not exist or else you do not have "
    "permission to that file because it is in a DAG-restricted or Role-restricted folder."
)
BAD_PARAMETER = 'The value of the parameter "{name}" is not valid'
NAME_TOO_LONG = (
    'The value of the parameter "name" is too long: a folder name has at most {limit} characters'
)
#: REDCap's limit (its API documentation; the column is as wide).
MAX_NAME = 150
#: The CSV columns of ``list`` since REDCap 16.0.8 (localcap reports 16.1.3).
LIST_HEADER = ("folder_id", "doc_id", "name", "role", "dag")


def _require(ctx: ApiContext, *, export: bool) -> None:
    if export:
        ctx.require_export()
    else:
        ctx.require_import()
    ctx.require("file_repository", NO_FILE_REPOSITORY)


def _may_see(ctx: ApiContext, folder: Folder) -> bool:
    """The folder's own limits (not its parents'): DAG (users in no DAG pass) and role."""
    if folder.dag_id is not None and ctx.group_id is not None and folder.dag_id != ctx.group_id:
        return False
    return folder.role_id is None or folder.role_id == ctx.role_id


def _reachable(ctx: ApiContext, folders: Mapping[int, Folder], folder_id: int | None) -> bool:
    """Whether the folder and every folder above it are visible (None: the top level)."""
    seen: set[int] = set()
    while folder_id is not None:
        folder = folders.get(folder_id)
        if folder is None or folder_id in seen or not _may_see(ctx, folder):
            return False
        seen.add(folder_id)
        folder_id = folder.parent_id
    return True


def _positive_id(text: str) -> int | None:
    """A database id from a parameter, or None when it cannot be one."""
    return small_int(text, MAX_ID, minimum=1)


def _folder_param(ctx: ApiContext, folders: Mapping[int, Folder]) -> int | None:
    """The ``folder_id`` parameter: None (top level) when absent; 400 unless reachable."""
    text = ctx.request.get("folder_id").strip()
    if not text:
        return None
    folder_id = _positive_id(text)
    if folder_id is None or folder_id not in folders or not _reachable(ctx, folders, folder_id):
        raise ApiError(400, FOLDER_NOT_FOUND.format(folder_id=text))
    return folder_id


def _file_param(ctx: ApiContext, conn: Connection) -> RepositoryFile:
    """The live file named by ``doc_id``, in a reachable folder; 400 otherwise."""
    text = ctx.request.get("doc_id").strip()
    doc_id = _positive_id(text)
    found = repo.get_file(conn, ctx.project.project_id, doc_id) if doc_id is not None else None
    if found is None or not _reachable(
        ctx, repo.load_folders(conn, ctx.project.project_id), found.folder_id
    ):
        raise ApiError(400, FILE_NOT_FOUND.format(doc_id=text))
    return found


def _optional_id(ctx: ApiContext, name: str, allowed: Mapping[int, object]) -> int | None:
    """An optional id parameter that must be a key of ``allowed``."""
    text = ctx.request.get(name).strip()
    if not text:
        return None
    value = _positive_id(text)
    if value is None or value not in allowed:
        raise ApiError(400, BAD_PARAMETER.format(name=name))
    return value


def _folder_name(ctx: ApiContext) -> str:
    name = ctx.request.get("name").strip()
    if not name:
        raise ApiError(400, BAD_PARAMETER.format(name="name"))
    if len(name) > MAX_NAME:
        raise ApiError(400, NAME_TOO_LONG.format(limit=MAX_NAME))
    return name


def _describe(ctx: ApiContext, description: str) -> None:
    """The audit log's words for the call (folder and file names are the callers' text:
    printed with control characters escaped)."""
    if ctx.audit is not None:
        ctx.audit.description = printable(bounded(description, 1000))


def create_folder(ctx: ApiContext) -> Response:
    _require(ctx, export=False)
    name = _folder_name(ctx)
    with ctx.write_transaction() as conn:
        project = ctx.project  # its DAGs as of the lock: one deleted meanwhile is refused
        dags = {
            group_id: dag
            for group_id, dag in project.dag_by_id.items()
            if ctx.group_id is None or group_id == ctx.group_id
        }
        parent_id = _folder_param(ctx, repo.load_folders(conn, project.project_id))
        dag_id = _optional_id(ctx, "dag_id", dags)
        role_id = _optional_id(ctx, "role_id", repo.role_names(conn, project.project_id))
        folder_id = repo.create_folder(conn, project.project_id, name, parent_id, dag_id, role_id)
    _describe(ctx, f"Create File Repository folder {folder_id} ({name})")
    return list_response(ctx, [{"folder_id": folder_id}], ["folder_id"])


def list_folder(ctx: ApiContext) -> Response:
    _require(ctx, export=True)
    project = ctx.project
    with ctx.read_snapshot() as conn:
        folders = repo.load_folders(conn, project.project_id)
        parent_id = _folder_param(ctx, folders)
        roles = repo.role_names(conn, project.project_id)
        files = repo.list_files(conn, project.project_id, parent_id)
    children = sorted(
        (f for f in folders.values() if f.parent_id == parent_id and _may_see(ctx, f)),
        key=lambda f: (f.name.casefold(), f.folder_id),
    )
    items: list[dict[str, Any]] = []
    for folder in children:
        item: dict[str, Any] = {"folder_id": folder.folder_id, "name": folder.name}
        if folder.role_id is not None:
            item["role"] = roles.get(folder.role_id, "")
        if folder.dag_id is not None and folder.dag_id in project.dag_by_id:
            item["dag"] = project.dag_by_id[folder.dag_id].unique_name
        items.append(item)
    for doc_id, name in sorted(files, key=lambda f: (f[1].casefold(), f[0])):
        items.append({"doc_id": doc_id, "name": name})
    return _items_response(ctx, items)


def _items_response(ctx: ApiContext, items: list[dict[str, Any]]) -> Response:
    """JSON and XML keep each item's own keys; CSV needs REDCap's fixed header."""
    if ctx.format == "json":
        return Response(dumps(items), headers={"content-type": CONTENT_TYPES["json"]})
    if ctx.format == "csv":
        body, content_type = render_records(items, "csv", LIST_HEADER)
        return Response(body, headers={"content-type": content_type})
    return Response(
        b"".join(write_xml_items(items)), headers={"content-type": CONTENT_TYPES["xml"]}
    )


def export_file(ctx: ApiContext) -> Response:
    _require(ctx, export=True)
    with ctx.read_snapshot() as conn:
        found = _file_param(ctx, conn)
    _describe(ctx, f"Download File Repository file {found.document.doc_id}")
    return document_response(ctx, found.document)


def import_file(ctx: ApiContext) -> Response:
    _require(ctx, export=False)
    project = ctx.project
    with ctx.read_snapshot() as conn:
        folder_id = _folder_param(ctx, repo.load_folders(conn, project.project_id))
    stored = store_upload(ctx, required_upload(ctx))  # 1. the bytes, durably
    with dropped_on_failure(ctx, stored), ctx.write_transaction() as conn:
        doc_id = stored.insert(conn, project.project_id)  # 2. the database, in one commit
        repo.add_file(conn, project.project_id, doc_id, folder_id)
    _describe(ctx, f"Upload File Repository file {doc_id} ({stored.name})")
    return empty_answer(ctx)


def delete_file(ctx: ApiContext) -> Response:
    _require(ctx, export=False)
    with ctx.write_transaction() as conn:
        found = _file_param(ctx, conn)
        if not repo.mark_deleted(conn, ctx.project.project_id, found.document.doc_id):
            raise ApiError(400, FILE_NOT_FOUND.format(doc_id=found.document.doc_id))
        expired = repo.purge_recycle_bin(conn, ctx.project.project_id)
    for key in expired:  # the Recycle Bin's 30 days are over for these
        delete_bytes(ctx, key)
    _describe(ctx, f"Delete File Repository file {found.document.doc_id} (Recycle Bin)")
    return empty_answer(ctx)
