"""The File Repository's tables: folders (``repository_folders``) and the files placed in them
(``repository_files``, one row per ``documents`` row).

Every query takes the project id, so an id from another project (or a forged one) is simply
not found. Who may *see* a folder is decided in :mod:`localcap.api.methods.file_repository`
from the whole folder tree, which :func:`load_folders` reads in one query (a project's folders
are few).

A deleted file keeps its ``documents`` row and its bytes, with ``deleted_at`` set: REDCap moves
it to the Recycle Bin for 30 days. Nothing here lists or returns a deleted file, and
:func:`purge_recycle_bin` removes those deleted more than 30 days ago for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from localcap.db import schema as t
from localcap.db.documents import Document, get_document


@dataclass(frozen=True)
class Folder:
    """A File Repository folder; ``parent_id`` None is the top level."""

    folder_id: int
    parent_id: int | None
    name: str
    dag_id: int | None
    role_id: int | None


@dataclass(frozen=True)
class RepositoryFile:
    """A live (not deleted) repository file: its document and its folder (None: top level)."""

    document: Document
    folder_id: int | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_folders(conn: Connection, project_id: int) -> dict[int, Folder]:
    """Every folder of the project, by id."""
    f = t.repository_folders.c
    rows = conn.execute(
        select(f.folder_id, f.parent_id, f.name, f.dag_id, f.role_id).where(
            f.project_id == project_id
        )
    )
    return {
        row.folder_id: Folder(row.folder_id, row.parent_id, row.name, row.dag_id, row.role_id)
        for row in rows
    }


def create_folder(
    conn: Connection,
    project_id: int,
    name: str,
    parent_id: int | None,
    dag_id: int | None,
    role_id: int | None,
) -> int:
    """Insert a folder; returns its new folder_id."""
    result = conn.execute(
        insert(t.repository_folders)
        .values(
            project_id=project_id,
            parent_id=parent_id,
            name=name,
            dag_id=dag_id,
            role_id=role_id,
            created_at=_now(),
        )
        .returning(t.repository_folders.c.folder_id)
    )
    return int(result.scalar_one())


def list_files(conn: Connection, project_id: int, folder_id: int | None) -> list[tuple[int, str]]:
    """``(doc_id, name)`` of the live files directly in a folder (None: the top level)."""
    r, d = t.repository_files.c, t.documents.c
    in_folder = r.folder_id.is_(None) if folder_id is None else r.folder_id == folder_id
    rows = conn.execute(
        select(d.doc_id, d.name)
        .select_from(t.repository_files.join(t.documents, d.doc_id == r.doc_id))
        .where(r.project_id == project_id, in_folder, r.deleted_at == "")
    )
    return [(int(row.doc_id), row.name) for row in rows]


def get_file(conn: Connection, project_id: int, doc_id: int) -> RepositoryFile | None:
    """A live repository file by doc_id; None when it is not one (a record's upload, a deleted
    file, another project's document)."""
    r = t.repository_files.c
    row = conn.execute(
        select(r.folder_id).where(
            r.project_id == project_id, r.doc_id == doc_id, r.deleted_at == ""
        )
    ).first()
    if row is None:
        return None
    document = get_document(conn, project_id, doc_id)
    return None if document is None else RepositoryFile(document, row.folder_id)


def add_file(conn: Connection, project_id: int, doc_id: int, folder_id: int | None) -> None:
    """Place an inserted document in a folder (None: the top level)."""
    conn.execute(
        insert(t.repository_files).values(
            doc_id=doc_id, project_id=project_id, folder_id=folder_id, comment="", deleted_at=""
        )
    )


def mark_deleted(conn: Connection, project_id: int, doc_id: int) -> bool:
    """Move a live file to the Recycle Bin (set ``deleted_at``); False if it was not live, so
    two concurrent deletes cannot both succeed."""
    r = t.repository_files.c
    result = conn.execute(
        update(t.repository_files)
        .where(r.project_id == project_id, r.doc_id == doc_id, r.deleted_at == "")
        .values(deleted_at=_now())
    )
    return bool(result.rowcount)


#: How long a deleted file stays in the Recycle Bin (REDCap: "up to 30 days").
RECYCLE_BIN_DAYS = 30


def purge_recycle_bin(conn: Connection, project_id: int, now: datetime | None = None) -> list[str]:
    """Forget the project's files deleted more than :data:`RECYCLE_BIN_DAYS` ago; returns their
    store keys, whose bytes the caller deletes after committing."""
    r = t.repository_files.c
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=RECYCLE_BIN_DAYS)).isoformat(
        timespec="seconds"
    )
    expired = conn.execute(
        select(t.documents.c.doc_id, t.documents.c.store_key)
        .join(t.repository_files, r.doc_id == t.documents.c.doc_id)
        .where(r.project_id == project_id, r.deleted_at != "", r.deleted_at < cutoff)
    ).all()
    doc_ids = [row.doc_id for row in expired]
    if doc_ids:
        conn.execute(delete(t.repository_files).where(r.doc_id.in_(doc_ids)))
        conn.execute(delete(t.documents).where(t.documents.c.doc_id.in_(doc_ids)))
    return [row.store_key for row in expired]


def role_names(conn: Connection, project_id: int) -> dict[int, str]:
    """``role_id -> unique_role_name`` of the project's user roles."""
    u = t.user_roles.c
    rows = conn.execute(select(u.role_id, u.unique_role_name).where(u.project_id == project_id))
    return {int(row.role_id): row.unique_role_name for row in rows}


def folders_restricted_to_dags(
    conn: Connection, project_id: int, group_ids: list[int]
) -> list[int]:
    """The folders limited to one of these DAGs (a DAG that limits a folder is not deleted)."""
    f = t.repository_folders.c
    rows = conn.execute(
        select(f.folder_id).where(f.project_id == project_id, f.dag_id.in_(group_ids))
    )
    return [int(row.folder_id) for row in rows]
