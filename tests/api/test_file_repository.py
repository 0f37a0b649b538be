"""The File Repository (``content=fileRepository``) over HTTP, as REDCap's clients call it.

Folders nest; files go to the top level or into a folder; a deleted file goes to the Recycle
Bin (hidden, bytes kept). DAG limits are a security boundary: what a user cannot see is
reported exactly like what does not exist. Every test runs on SQLite and PostgreSQL; one runs
the whole cycle on an S3 store. Role limits: ``test_file_repository_roles.py``.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import requests
from click.testing import CliRunner
from sqlalchemy import select, update
from test_files import project_id
from test_files import user_api as files_user_api

from builders import Api, create_project, field
from files.conftest import aws_env, bucket, moto_endpoint, s3_client  # noqa: F401 - fixtures
from liveserver import start_server
from localcap.cli import main
from localcap.db import schema as t
from localcap.db.transactions import read_snapshot
from localcap.files.local import LocalFileStore
from localcap.files.names import DOWNLOAD_CSP

FOLDER_MISSING = (
    "The File Repository folder folder_id={} does not exist or else you do not have "
    "permission to that folder because it is DAG-restricted or Role-restricted."
)
FILE_MISSING = (
    "The File Repository file doc_id={} does not exist or else you do not have "
    "permission to that file because it is in a DAG-restricted or Role-restricted folder."
)
NO_REPOSITORY = (
    "You do not have permissions to use this method: File Repository privileges are required"
)
J = {"returnFormat": "json"}


# -- helpers: the calls as REDCap's API documentation spells them -------------------------


def create_folder(api: Api, name: str, **params: Any) -> requests.Response:
    params.setdefault("format", "json")
    return api.call(content="fileRepository", action="createFolder", name=name, **params)


def new_folder(api: Api, name: str, **params: Any) -> int:
    response = create_folder(api, name, **params)
    assert response.status_code == 200, response.text
    [item] = response.json()
    return int(item["folder_id"])


def listing(api: Api, **params: Any) -> requests.Response:
    params.setdefault("format", "json")
    return api.call(content="fileRepository", action="list", **params)


def ls(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = listing(api, **params)
    assert response.status_code == 200, response.text
    return response.json()


def upload(api: Api, name: str, content: bytes, **params: Any) -> requests.Response:
    return api.call(
        content="fileRepository", action="import", files={"file": (name, content)}, **params
    )


def put(api: Api, name: str, content: bytes, **params: Any) -> int:
    """Upload and return the new file's doc_id (found by name in its folder's listing)."""
    response = upload(api, name, content, **params)
    assert response.status_code == 200, response.text
    folder = {"folder_id": params["folder_id"]} if "folder_id" in params else {}
    [doc_id] = [i["doc_id"] for i in ls(api, **folder) if i.get("name") == name]
    return int(doc_id)


def download(api: Api, doc_id: int | str, **params: Any) -> requests.Response:
    return api.call(content="fileRepository", action="export", doc_id=doc_id, **params)


def remove(api: Api, doc_id: int | str, **params: Any) -> requests.Response:
    return api.call(content="fileRepository", action="delete", doc_id=doc_id, **params)


def error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def user_api(api: Api, username: str, **rights: Any) -> Api:
    """A project user (File Repository and API rights unless overridden) and their token."""
    return files_user_api(api, username, **{"file_repository": 1, **rights})


def with_dags(server: Any) -> Api:
    api = create_project(server, "Repository DAGs")
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    return api


def dag_ids(api: Api) -> dict[str, int]:
    return {d["unique_group_name"]: int(d["data_access_group_id"]) for d in api.json(content="dag")}


def repository_rows(api: Api) -> dict[int, Any]:
    pid = project_id(api)
    with read_snapshot(api.server.engine) as conn:
        rows = conn.execute(
            select(t.repository_files, t.documents.c.store_key)
            .join(t.documents, t.documents.c.doc_id == t.repository_files.c.doc_id)
            .where(t.repository_files.c.project_id == pid)
        )
        return {row.doc_id: row for row in rows}


# -- folders, files, listing ----------------------------------------------------------------


def test_nested_folders_files_and_listing_order(server):
    api = create_project(server, "Repository")
    protocols = new_folder(api, "protocols")
    archive = new_folder(api, "Archive")
    v2 = new_folder(api, "version 2", folder_id=protocols)
    top = put(api, "readme.txt", b"top level\n")
    inner = put(api, "protocol.pdf", b"%PDF-1.4\n%%EOF\n", folder_id=protocols)
    deepest = put(api, "notes.txt", b"deep", folder_id=v2)
    put(api, "Budget.csv", b"a,b\n1,2\n")

    # Folders first, then files; each by name, case-insensitively.
    assert ls(api) == [
        {"folder_id": archive, "name": "Archive"},
        {"folder_id": protocols, "name": "protocols"},
        {"doc_id": ls(api)[2]["doc_id"], "name": "Budget.csv"},
        {"doc_id": top, "name": "readme.txt"},
    ]
    assert ls(api, folder_id=protocols) == [
        {"folder_id": v2, "name": "version 2"},
        {"doc_id": inner, "name": "protocol.pdf"},
    ]
    assert ls(api, folder_id=v2) == [{"doc_id": deepest, "name": "notes.txt"}]
    assert ls(api, folder_id=archive) == []
    assert download(api, deepest).content == b"deep"


def test_export_has_export_files_headers(server):
    api = create_project(server)
    doc_id = put(api, "test.txt", b"hello")
    response = download(api, doc_id)
    assert response.content == b"hello"
    assert response.headers["content-type"] == 'text/plain; name="test.txt";charset=UTF-8'
    assert response.headers["content-length"] == "5"
    assert response.headers["content-security-policy"] == DOWNLOAD_CSP
    # The stored name may be hostile: what reaches the header is a plain file name.
    evil = put(api, "../../.bashrc", b"rm -rf ~")
    assert "/" not in download(api, evil).headers["content-type"].split("name=")[1]


def test_an_empty_file_is_a_file(server):
    """PyCap's fixture uploads its temporary file twice; the second read is empty."""
    api = create_project(server)
    doc_id = put(api, "empty.txt", b"")
    response = download(api, doc_id)
    assert (response.status_code, response.content) == (200, b"")


def test_formats_of_create_and_list(server):
    api = with_dags(server)
    site_a = dag_ids(api)["site_a"]
    response = create_folder(api, "limited", format="csv", dag_id=site_a)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    header, value = response.text.splitlines()
    assert header == "folder_id"
    folder_id = int(value)
    xml = ElementTree.fromstring(create_folder(api, "open", format="xml").content)
    open_id = int(xml.findtext("item/folder_id") or "")
    doc_id = put(api, "a b.txt", b"x")

    csv = listing(api, format="csv")
    assert csv.text == (
        "folder_id,doc_id,name,role,dag\n"
        f"{folder_id},,limited,,site_a\n"
        f"{open_id},,open,,\n"
        f',{doc_id},"a b.txt",,\n'
    )
    assert ls(api) == [
        {"folder_id": folder_id, "name": "limited", "dag": "site_a"},
        {"folder_id": open_id, "name": "open"},
        {"doc_id": doc_id, "name": "a b.txt"},
    ]
    xml = listing(api, format="xml")
    assert xml.headers["content-type"] == "text/xml; charset=utf-8"
    assert xml.text.count("<item>") == 3
    assert "<dag><![CDATA[site_a]]></dag>" in xml.text
    # An empty folder: [] in JSON, the header alone in CSV.
    assert ls(api, folder_id=open_id) == []
    assert listing(api, folder_id=open_id, format="csv").text == "folder_id,doc_id,name,role,dag\n"


# -- delete: REDCap's Recycle Bin ------------------------------------------------------------


def test_delete_moves_the_file_to_the_recycle_bin(server):
    api = create_project(server)
    folder = new_folder(api, "f")
    keep = put(api, "keep.txt", b"keep", folder_id=folder)
    gone = put(api, "gone.txt", b"gone", folder_id=folder)
    response = remove(api, gone)
    assert (response.status_code, response.content) == (200, b"")

    assert ls(api, folder_id=folder) == [{"doc_id": keep, "name": "keep.txt"}]
    assert error(download(api, gone, **J)) == (400, FILE_MISSING.format(gone))
    assert error(remove(api, gone, **J)) == (400, FILE_MISSING.format(gone))
    # Kept for the bin: the row is marked, the bytes are still in the store.
    row = repository_rows(api)[gone]
    assert row.deleted_at != ""
    assert row.store_key in LocalFileStore(api.server.data_dir / "files").iter_keys()
    assert repository_rows(api)[keep].deleted_at == ""


def test_the_recycle_bin_forgets_files_after_30_days(server):
    api = create_project(server)
    old = put(api, "old.txt", b"old")
    recent = put(api, "recent.txt", b"recent")
    assert remove(api, old).status_code == 200
    assert remove(api, recent).status_code == 200
    old_key = repository_rows(api)[old].store_key
    with server.engine.begin() as conn:  # deleted 31 days ago
        conn.execute(
            update(t.repository_files)
            .where(t.repository_files.c.doc_id == old)
            .values(deleted_at="2000-01-01T00:00:00+00:00")
        )
    # The next delete empties what has been in the bin for more than 30 days, bytes too.
    assert remove(api, put(api, "next.txt", b"next")).status_code == 200
    rows = repository_rows(api)
    assert old not in rows and recent in rows
    assert old_key not in LocalFileStore(api.server.data_dir / "files").iter_keys()


# -- errors ------------------------------------------------------------------------------------


def test_unknown_folder_is_redcaps_recorded_error(server):
    api = create_project(server)
    assert error(listing(api, folder_id=99, **J)) == (400, FOLDER_MISSING.format(99))
    assert error(create_folder(api, "x", folder_id=99, **J)) == (400, FOLDER_MISSING.format(99))
    assert error(upload(api, "x.txt", b"x", folder_id=99, **J)) == (
        400,
        FOLDER_MISSING.format(99),
    )
    for bad in ("abc", "0", "-1", "99999999999999999999"):
        assert error(listing(api, folder_id=bad, **J)) == (400, FOLDER_MISSING.format(bad))
    # In csv, exactly what REDCapR recorded from a real REDCap.
    response = listing(api, folder_id=99, format="csv")
    assert (response.status_code, response.text) == (400, "ERROR: " + FOLDER_MISSING.format(99))


def test_bad_doc_ids(server):
    api = create_project(server)
    api.import_json(
        "metadata", [field("record_id", "f", "text", "ID"), field("scan", "f", "file", "Scan")]
    )
    api.import_json("record", [{"record_id": "1"}])
    api.ok(
        content="file", action="import", record="1", field="scan", files={"file": ("s.txt", b"s")}
    )
    with api.server.engine.connect() as conn:
        record_doc = conn.execute(select(t.documents.c.doc_id)).scalars().all()[-1]
    # A record's upload is a document, but not a File Repository file.
    for bad in (record_doc, 99999, "abc", ""):
        assert error(download(api, bad, **J)) == (400, FILE_MISSING.format(bad))
        assert error(remove(api, bad, **J)) == (400, FILE_MISSING.format(bad))
    assert api.ok(content="file", action="export", record="1", field="scan").content == b"s"


def test_parameter_errors(server):
    api = with_dags(server)
    assert new_folder(api, "n" * 150) > 0
    assert error(create_folder(api, "n" * 151, **J)) == (
        400,
        'The value of the parameter "name" is too long: a folder name has at most 150 characters',
    )
    assert error(create_folder(api, "  ", **J)) == (
        400,
        'The value of the parameter "name" is not valid',
    )
    for name, value in (("dag_id", 999), ("dag_id", "site_a"), ("role_id", 999)):
        assert error(create_folder(api, "x", **{name: value}, **J)) == (
            400,
            f'The value of the parameter "{name}" is not valid',
        )
    response = api.call(content="fileRepository", action="import", **J)
    assert response.status_code == 400
    assert "No file was uploaded" in response.json()["error"]
    assert error(api.call(content="fileRepository", action="move", **J)) == (
        400,
        'The value of the parameter "action" is not valid',
    )
    # None of the failed calls left a folder or a document behind.
    assert [i["name"] for i in ls(api)] == ["n" * 150]
    assert repository_rows(api) == {}


def test_another_projects_folders_and_files_do_not_exist(server):
    mine = create_project(server, "mine")
    theirs = create_project(server, "theirs")
    folder = new_folder(theirs, "private")
    doc_id = put(theirs, "secret.txt", b"secret", folder_id=folder)
    assert error(listing(mine, folder_id=folder, **J)) == (400, FOLDER_MISSING.format(folder))
    assert error(download(mine, doc_id, **J)) == (400, FILE_MISSING.format(doc_id))
    assert error(remove(mine, doc_id, **J)) == (400, FILE_MISSING.format(doc_id))
    assert error(upload(mine, "x.txt", b"x", folder_id=folder, **J))[0] == 400
    assert ls(mine) == []
    assert download(theirs, doc_id).content == b"secret"


# -- rights ------------------------------------------------------------------------------------


def test_rights(server):
    api = create_project(server)
    folder = new_folder(api, "f")
    doc_id = put(api, "f.txt", b"f")
    calls = {
        "createFolder": lambda u: create_folder(u, "new", **J),
        "list": lambda u: listing(u, **J),
        "export": lambda u: download(u, doc_id, **J),
        "import": lambda u: upload(u, "new.txt", b"n", folder_id=folder, **J),
        "delete": lambda u: remove(u, doc_id, **J),
    }
    outsider = user_api(api, "no_repository", file_repository=0)
    for call in calls.values():
        assert error(call(outsider)) == (403, NO_REPOSITORY)

    reader = user_api(api, "reader", api_import=0)
    for action in ("createFolder", "import", "delete"):
        assert error(calls[action](reader)) == (403, "You do not have API Import/Update privileges")
    assert calls["list"](reader).status_code == 200
    assert calls["export"](reader).content == b"f"

    writer = user_api(api, "writer", api_export=0)
    for action in ("list", "export"):
        assert error(calls[action](writer)) == (403, "You do not have API Export privileges")
    for action in ("createFolder", "import", "delete"):
        assert calls[action](writer).status_code == 200
    assert [i["name"] for i in ls(api)] == ["f", "new"]
    assert [i["name"] for i in ls(api, folder_id=folder)] == ["new.txt"]


# -- Data Access Groups: a security boundary ----------------------------------------------------


def test_dag_limited_folders(server):
    api = with_dags(server)
    dags = dag_ids(api)
    site_a = new_folder(api, "Site A only", dag_id=dags["site_a"])
    inside = new_folder(api, "open subfolder", folder_id=site_a)
    a_doc = put(api, "a.txt", b"A", folder_id=site_a)
    deep_doc = put(api, "deep.txt", b"deep", folder_id=inside)
    shared = new_folder(api, "shared")

    a_user = user_api(api, "a_user", data_access_group="site_a")
    b_user = user_api(api, "b_user", data_access_group="site_b")
    nobody = user_api(api, "no_dag_user")

    # Site A's users and users in no DAG see the folder and everything in it.
    for user in (a_user, nobody):
        assert [i["name"] for i in ls(user)] == ["shared", "Site A only"]
        assert [i["name"] for i in ls(user, folder_id=site_a)] == ["open subfolder", "a.txt"]
        assert download(user, deep_doc).content == b"deep"

    # Site B's users cannot tell it exists: not listed, and every way in is "does not exist",
    # the unrestricted subfolder too (it is inside a folder they cannot see).
    assert ls(b_user) == [{"folder_id": shared, "name": "shared"}]
    for folder in (site_a, inside):
        assert error(listing(b_user, folder_id=folder, **J)) == (400, FOLDER_MISSING.format(folder))
        assert error(create_folder(b_user, "x", folder_id=folder, **J)) == (
            400,
            FOLDER_MISSING.format(folder),
        )
        assert error(upload(b_user, "x.txt", b"x", folder_id=folder, **J)) == (
            400,
            FOLDER_MISSING.format(folder),
        )
    for doc_id in (a_doc, deep_doc):
        assert error(download(b_user, doc_id, **J)) == (400, FILE_MISSING.format(doc_id))
        assert error(remove(b_user, doc_id, **J)) == (400, FILE_MISSING.format(doc_id))
    assert download(api, a_doc).content == b"A"

    # A DAG user may limit a folder to their own DAG only.
    assert error(create_folder(b_user, "x", dag_id=dags["site_a"], **J)) == (
        400,
        'The value of the parameter "dag_id" is not valid',
    )
    own = new_folder(b_user, "Site B only", dag_id=dags["site_b"])
    assert error(listing(a_user, folder_id=own, **J))[0] == 400
    assert [i["name"] for i in ls(b_user)] == ["shared", "Site B only"]


def test_a_dag_that_limits_a_folder_is_not_deleted(server):
    """Deleting it would open the folder to every DAG; REDCap's answer is unrecorded."""
    api = with_dags(server)
    dags = dag_ids(api)
    new_folder(api, "Site A only", dag_id=dags["site_a"])
    response = api.call(content="dag", action="delete", dags=["site_a"], **J)
    assert response.status_code == 400
    assert "File Repository" in response.json()["error"]
    assert set(dag_ids(api)) == {"site_a", "site_b"}
    assert api.json(content="dag", action="delete", dags=["site_b"]) == 1


# -- file stores -------------------------------------------------------------------------------


def test_s3_store_round_trip(aws_env, s3_client, bucket, tmp_path):  # noqa: F811
    live = start_server(tmp_path / "data", None, "sqlite", file_store=f"s3://{bucket}/repo")
    try:
        api = create_project(live)
        folder = new_folder(api, "scans")
        doc_id = put(api, "scan.bin", bytes(range(256)) * 100, folder_id=folder)
        assert download(api, doc_id).content == bytes(range(256)) * 100
        [key] = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
        assert key.startswith("repo/")
        assert remove(api, doc_id).status_code == 200
        # In the Recycle Bin: still in the bucket.
        assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    finally:
        live.stop()


def test_files_verify_checks_repository_files(server):
    api = create_project(server)
    doc_id = put(api, "checked.txt", b"checked")
    key = repository_rows(api)[doc_id].store_key
    store = LocalFileStore(api.server.data_dir / "files")
    args = ["files", "verify", "--data-dir", str(api.server.data_dir)]
    if server.backend == "postgresql":
        args += ["--database-url", server.engine.url.render_as_string(hide_password=False)]
    # The server (and its data directory) is shared by the session's tests: other tests may
    # have left problems of their own, so look for this file's line, not a clean exit.
    assert key not in CliRunner().invoke(main, args).output
    store.delete(key)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"missing\t{key}" in result.output


def test_bytes_are_written_before_the_commit_and_dropped_on_failure(server, monkeypatch):
    """A failed database write leaves no orphan bytes (and no row)."""
    api = create_project(server)
    store = LocalFileStore(api.server.data_dir / "files")
    before = set(store.iter_keys())
    from localcap.db import repository

    def broken(*args: Any, **kwargs: Any) -> None:
        assert set(store.iter_keys()) - before, "the bytes must be stored before the row"
        raise RuntimeError("database down")

    monkeypatch.setattr(repository, "add_file", broken)
    response = upload(api, "lost.txt", b"lost", **J)
    assert response.status_code == 500
    assert set(store.iter_keys()) == before
    assert repository_rows(api) == {}
