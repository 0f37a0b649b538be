"""``localcap project pull``: a second localcap plays the remote REDCap."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from builders import Api, clinical_classic, user_api
from liveserver import LiveServer, start_server
from localcap.cli import main
from localcap.db import schema as t
from localcap.db.engine import open_database
from localcap.files.local import LocalFileStore

ALL_FORMS = {"demographics": 1, "visit": 1, "adverse_events": 1}
REPORT = {"title": "Weights", "fields": ["record_id", "weight"], "filter_logic": "[weight] > 61"}


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> LiveServer:
    live = start_server(tmp_path_factory.mktemp("remote"), None, "sqlite")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def source(remote) -> Api:
    api = clinical_classic(remote)
    api.import_json("dag", [{"data_access_group_name": "Site A", "unique_group_name": ""}])
    rows = [
        {"record_id": str(i), "first_name": f"N{i}", "weight": str(60 + i)} for i in range(1, 5)
    ]
    rows[0]["redcap_data_access_group"] = "site_a"
    api.import_json("record", rows)
    api.ok(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("scan.bin", io.BytesIO(bytes(range(256)) * 10))},
    )
    api.ok(content="report", action="import", data=json.dumps([REPORT]))
    return api


def pull(data_dir: Path, url: str, token: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["project", "pull", "--data-dir", str(data_dir), "--from", url, "--token", token]
    )
    return result.exit_code, result.output


def local_api(data_dir: Path, output: str) -> tuple[LiveServer, Api]:
    token = re.search(r"API token ([0-9A-F]{32})", output).group(1)
    live = start_server(data_dir, None, "sqlite")
    return live, Api(live, token)


def full_export(api: Api) -> bytes:
    xml = api.ok(
        content="project_xml",
        returnMetadataOnly="false",
        exportFiles="true",
        exportSurveyFields="true",
        exportDataAccessGroups="true",
    ).content
    return re.sub(rb'(AsOf|Creation)DateTime="[^"]*"', b"", xml)


def test_pull_copies_design_records_reports_and_files(source, tmp_path):
    code, output = pull(tmp_path, source.url, source.token)
    assert code == 0, output
    assert "Project 1 created (4 records, 1 files)" in output
    live, copy = local_api(tmp_path, output)
    try:
        # the design, DAGs, reports, records and files, as the remote's own XML says them
        assert full_export(copy) == full_export(source)
        names = [f["field_name"] for f in copy.json(content="metadata")]
        assert names == [f["field_name"] for f in source.json(content="metadata")]
        assert copy.json(content="dag") == source.json(content="dag")
        assert copy.json(content="record") == source.json(content="record")
        assert copy.json(content="report", report_id=1) == source.json(
            content="report", report_id=1
        )
        scan = copy.ok(content="file", action="export", record="1", field="scan").content
        assert scan == bytes(range(256)) * 10
    finally:
        live.stop()
    # the remote token is nowhere on disk, the audit log names the host only
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert source.token.encode() not in path.read_bytes(), path
    engine = open_database(tmp_path)
    with engine.connect() as conn:
        entries = [r.description for r in conn.execute(select(t.audit_log))]
    engine.dispose()
    assert any(f"from {source.url}'s project XML" in e for e in entries)


def test_pull_gets_only_what_the_token_may_export(source, tmp_path):
    deid = user_api(source, "deid", forms_export={**ALL_FORMS, "demographics": 2})
    site = user_api(source, "site_a_user", forms_export=ALL_FORMS, data_access_group="site_a")
    code, output = pull(tmp_path / "deid", source.url, deid.token)
    assert code == 0, output
    live, copy = local_api(tmp_path / "deid", output)
    try:
        names = {r.get("first_name", "") for r in copy.json(content="record")}
        assert names == {""}  # identifiers removed by the remote, not brought over
    finally:
        live.stop()
    blind = user_api(source, "blind", forms_export=dict.fromkeys(ALL_FORMS, 0))
    code, output = pull(tmp_path / "blind", source.url, blind.token)
    assert code == 1 and '"No Access" data export rights' in output, output
    assert not (tmp_path / "blind").exists()
    code, output = pull(tmp_path / "site", source.url, site.token)
    assert code == 0, output
    live, copy = local_api(tmp_path / "site", output)
    try:
        assert [r["record_id"] for r in copy.json(content="record")] == ["1"]
    finally:
        live.stop()


def test_a_bad_token_is_a_clear_error_and_leaves_nothing(source, tmp_path):
    bad = "0123456789ABCDEF0123456789ABCDEF"
    code, output = pull(tmp_path, source.url, bad)
    assert code == 1
    assert output.strip() == (
        f"Error: {source.url} answered 403: You do not have permissions to use the API. "
        "Nothing was copied."
    )
    assert bad not in output
    assert not (tmp_path / "localcap.sqlite3").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    code, output = pull(tmp_path, "http://user:secret@127.0.0.1:9/api/", "A" * 32)
    assert code == 1
    assert output.startswith("Error: Cannot reach http://127.0.0.1:9/api/: ")
    assert "secret" not in output and "A" * 32 not in output
    assert list(tmp_path.iterdir()) == []


def test_the_copy_is_a_project_like_any_other(source, tmp_path):
    code, output = pull(tmp_path, source.url, source.token)
    assert code == 0, output
    store = LocalFileStore(tmp_path / "files")
    assert len(list(store.iter_keys())) == 1
