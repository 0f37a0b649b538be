"""Snapshots and reset (``POST /admin/`` with ``localcap serve --admin-api``, and the
``localcap snapshot``/``reset`` commands), on SQLite and PostgreSQL, while the server runs
and other clients stay connected."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import MetaData, select

from builders import Api, clinical_classic, user_api
from liveserver import LiveServer, start_server
from localcap.cli import main
from localcap.files.local import LocalFileStore
from support import postgres

NO_PERMISSION = "You do not have permissions to use the API"


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_server(request, tmp_path: Path) -> Iterator[LiveServer]:
    url = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg_server")
        url = postgres.create_database(pg, f"localcap_snap_{tmp_path.name[-20:].lower()}")
    live = start_server(tmp_path, url, request.param, admin_api=True)
    try:
        yield live
    finally:
        live.stop()


def admin(server: LiveServer, action: str, token: str | None = None, **params: Any):
    return requests.post(
        server.url.replace("/api/", "/admin/"),
        data={"token": server.super_token if token is None else token, "action": action, **params},
        timeout=60,
    )


def dump(server: LiveServer) -> dict[str, Any]:
    """Every row of every table (in a stable order) and every stored file's hash."""
    tables = MetaData()
    with server.engine.connect() as conn:
        tables.reflect(conn)
        rows = {
            table.name: [
                tuple(str(v) for v in row)
                for row in conn.execute(select(table).order_by(*table.columns))
            ]
            for table in tables.sorted_tables
        }
    store = LocalFileStore(server.data_dir / "files")
    files = {
        key: hashlib.sha256(b"".join(store.open(key))).hexdigest() for key in store.iter_keys()
    }
    return {"tables": rows, "files": files}


def populate(server: LiveServer) -> tuple[Api, Api]:
    api = clinical_classic(server)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    rows = [
        {"record_id": str(i), "first_name": f"N{i}", "weight": str(60 + i), "race___2": "1"}
        for i in range(1, 6)
    ]
    rows.append(
        {
            "record_id": "1",
            "redcap_repeat_instrument": "adverse_events",
            "redcap_repeat_instance": "1",
            "ae_term": "rash",
            "ae_grade": "2",
        }
    )
    api.import_json("record", rows)
    for record in ("1", "2"):
        api.ok(
            content="file",
            action="import",
            record=record,
            field="scan",
            files={"file": (f"scan {record}.bin", io.BytesIO(bytes(range(256)) * 40))},
        )
    api.ok(
        content="fileRepository",
        action="import",
        files={"file": ("protocol.pdf", io.BytesIO(b"%PDF-1.4 protocol"))},
    )
    report = {"title": "Weights", "fields": ["record_id", "weight"]}
    api.ok(content="report", action="import", data=json.dumps([report]))
    forms = {"demographics": 1, "visit": 1, "adverse_events": 1}
    analyst = user_api(api, "analyst", data_access_group="site_a", forms_export=forms)
    return api, analyst


def full_export(api: Api) -> bytes:
    """Export Project XML with data and files, without its time of export."""
    xml = api.ok(
        content="project_xml",
        returnMetadataOnly="false",
        exportFiles="true",
        exportSurveyFields="true",
        exportDataAccessGroups="true",
    ).content
    return re.sub(rb'(AsOf|Creation)DateTime="[^"]*"', b"", xml)


def test_restore_round_trips_every_table_and_file_while_clients_are_connected(admin_server):
    server = admin_server
    api, analyst = populate(server)
    client = requests.Session()  # another client, its connection kept open throughout
    assert client.post(server.url, data={"token": api.token, "content": "version"}).ok

    saved = admin(server, "snapshot_save", name="base")
    assert saved.status_code == 200, saved.text
    assert saved.json()["files"] == 3
    before, xml_before = dump(server), full_export(api)

    # change everything: records, files (Delete File removes the bytes), users, projects
    api.import_json("record", [{"record_id": "9", "first_name": "New"}])
    api.ok(content="record", action="delete", records="2")
    api.ok(content="file", action="delete", record="1", field="scan")
    api.ok(
        content="file",
        action="import",
        record="3",
        field="scan",
        files={"file": ("late.txt", io.BytesIO(b"late"))},
    )
    later = user_api(api, "later")
    clinical_classic(server)

    restored = admin(server, "snapshot_restore", name="base")
    assert restored.status_code == 200, restored.text
    after = dump(server)
    # the restore's own audit entry is the only new row
    new_entries = after["tables"]["audit_log"][len(before["tables"]["audit_log"]) :]
    assert (
        after["tables"]["audit_log"][: len(before["tables"]["audit_log"])]
        == before["tables"]["audit_log"]
    )
    assert len(new_entries) == 1 and "Restore snapshot base" in str(new_entries[0])
    for name in before["tables"]:
        if name != "audit_log":
            assert after["tables"][name] == before["tables"][name], name
    assert set(before["files"].items()) <= set(after["files"].items())
    assert full_export(api) == xml_before

    # the connected client goes on; the restored tokens work, a later one does not
    reply = client.post(
        server.url,
        data={"token": analyst.token, "content": "record", "format": "json", "fields": "record_id"},
    )
    assert reply.status_code == 200, reply.text
    gone = requests.post(
        server.url, data={"token": later.token, "content": "version", "format": "json"}, timeout=10
    )
    assert gone.status_code == 403
    # and new writes get ids past the restored ones
    api.import_json("record", [{"record_id": "10", "first_name": "After"}])
    api.ok(
        content="file",
        action="import",
        record="4",
        field="scan",
        files={"file": ("new.txt", io.BytesIO(b"new"))},
    )
    assert api.ok(content="file", action="export", record="4", field="scan").content == b"new"
    assert api.ok(content="file", action="export", record="1", field="scan").content == (
        bytes(range(256)) * 40
    )
    listed = admin(server, "snapshot_list").json()
    assert [s["name"] for s in listed] == ["base"]


def test_reset_empties_the_server_but_keeps_the_super_token(admin_server):
    server = admin_server
    api, _analyst = populate(server)
    answer = admin(server, "reset")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"files_deleted": 3}
    refused = requests.post(server.url, data={"token": api.token, "content": "version"}, timeout=10)
    assert refused.status_code == 403
    fresh = clinical_classic(server)  # the super token still creates projects
    assert fresh.json(content="project")["project_id"] == 1
    assert fresh.json(content="record") == []
    assert list(LocalFileStore(server.data_dir / "files").iter_keys()) == []


def test_the_admin_endpoint_needs_a_super_token_and_good_names(admin_server):
    server = admin_server
    api, _ = populate(server)
    for token in (api.token, "0" * 64, ""):
        answer = admin(server, "snapshot_list", token=token)
        assert (answer.status_code, answer.json()) == (403, {"error": NO_PERMISSION})
    answer = admin(server, "snapshot_save", name="../evil")
    assert answer.status_code == 400 and "snapshot name" in answer.json()["error"]
    assert not (server.data_dir.parent / "evil").exists()
    answer = admin(server, "snapshot_restore", name="missing")
    assert (answer.status_code, answer.json()) == (
        404,
        {"error": "There is no snapshot named missing"},
    )
    assert admin(server, "nonsense").status_code == 400


def test_no_admin_endpoint_unless_asked_for(server):
    answer = admin(server, "snapshot_list")
    assert answer.status_code == 404


def test_the_commands_save_and_restore_while_the_server_runs(tmp_path):
    server = start_server(tmp_path, None, "sqlite")
    try:
        api, _ = populate(server)
        runner = CliRunner()
        base = ["--data-dir", str(tmp_path)]
        result = runner.invoke(main, ["snapshot", "save", *base, "before"])
        assert result.exit_code == 0, result.output
        assert result.output == "Saved snapshot before (3 files)\n"
        records = api.json(content="record", fields="record_id")
        api.ok(content="record", action="delete", records="1")
        assert runner.invoke(main, ["snapshot", "list", *base]).output.startswith("before\t")
        result = runner.invoke(main, ["snapshot", "restore", *base, "before"])
        assert result.exit_code == 0, result.output
        assert api.json(content="record", fields="record_id") == records
        result = runner.invoke(main, ["snapshot", "restore", *base, "nope"])
        assert result.exit_code == 1 and "There is no snapshot named nope" in result.output
        result = runner.invoke(main, ["reset", *base, "--yes"])
        assert result.exit_code == 0, result.output
        assert api.call(content="version").status_code == 403
    finally:
        server.stop()


def test_save_and_restore_while_clients_write(admin_server):
    """Writers and readers keep calling while snapshots are saved and restored: every call is
    answered 200 (or 503 if a lock wait ran out: nothing written), never a 500; a restore
    then gives exactly what was saved, whatever ran before it."""
    import threading

    server = admin_server
    api, _ = populate(server)
    statuses: list[int] = []
    stop = threading.Event()

    def write(worker: int) -> None:
        for i in range(10_000):
            if stop.is_set():
                return
            row = {"record_id": f"w{worker}-{i}", "first_name": "x", "weight": str(i)}
            statuses.append(
                api.call(content="record", action="import", format="json", data=[row]).status_code
            )
            statuses.append(
                api.call(content="record", format="csv", fields="record_id").status_code
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        while len(statuses) < 6:  # the clients are busy before the first save
            stop.wait(0.01)
        for round_ in range(3):
            answer = admin(server, "snapshot_save", name=f"s{round_}")
            assert answer.status_code == 200, answer.text
            answer = admin(server, "snapshot_restore", name=f"s{round_}")
            assert answer.status_code == 200, answer.text
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    print(f"{len(statuses)} calls during the snapshots")
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert admin(server, "snapshot_restore", name="s2").status_code == 200
    first = dump(server)
    assert admin(server, "snapshot_restore", name="s2").status_code == 200
    second = dump(server)
    for name in first["tables"]:
        if name != "audit_log":
            assert second["tables"][name] == first["tables"][name], name
    records = api.json(content="record", fields="record_id,weight")
    assert all(r["weight"] for r in records if r["record_id"].startswith("w"))
