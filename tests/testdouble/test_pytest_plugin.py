"""The pytest plugin (``localcap.testing.plugin``), run the way its users run it: a test suite
of their own in a separate pytest process (``pytester``), the plugin loaded from the
``pytest11`` entry point of the installed package."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from liveserver import REDCAP_PROJECTS
from localcap.testing import start_server

pytest_plugins = ["pytester"]

SUITE = """
import json
from pathlib import Path

import pytest
import requests

from localcap.testing import LocalcapError, ProjectSpec, User

SPEC = ProjectSpec(
    fields=[
        {"field_name": "record_id", "form_name": "demo", "field_type": "text", "field_label": "ID"},
        {"field_name": "name", "form_name": "demo", "field_type": "text", "field_label": "Name",
         "identifier": "y"},
        {"field_name": "upload", "form_name": "demo", "field_type": "file", "field_label": "F"},
    ],
    dags=["Site A", "Site B"],
    users=[
        User("full"),
        User("site_a", dag="Site A"),
        User("deid", {"forms_export": {"demo": 2}}),
        User("blind", {"forms_export": {"demo": 0}}),
    ],
    records=[
        {"record_id": "1", "name": "Ann", "redcap_data_access_group": "site_a"},
        {"record_id": "2", "name": "Ben", "redcap_data_access_group": "site_b"},
    ],
)


def records(project, user):
    return project.json(user, content="record")


def test_default_project(localcap_project, localcap_server):
    Path("server.txt").write_text(
        f"{localcap_server.process.pid}\\n{localcap_server.data_dir}"
    )
    assert localcap_project.url == localcap_server.url
    assert localcap_project.tokens == {}
    assert localcap_project.json(content="metadata")[0]["field_name"] == "record_id"


@pytest.mark.localcap_project(SPEC)
def test_users_have_their_rights(localcap_project):
    assert set(localcap_project.tokens) == {"full", "site_a", "deid", "blind"}
    assert [r["name"] for r in records(localcap_project, "full")] == ["Ann", "Ben"]
    assert [r["record_id"] for r in records(localcap_project, "site_a")] == ["1"]
    assert {r.get("name") for r in records(localcap_project, "deid")} == {None}
    with pytest.raises(LocalcapError) as refused:
        records(localcap_project, "blind")
    assert refused.value.status == 403


@pytest.mark.localcap_project(SPEC)
def test_writes_to_a_copy(localcap_project):
    localcap_project.import_records([{"record_id": "3", "name": "Cat"}], user="full")
    assert len(records(localcap_project, "full")) == 3


@pytest.mark.localcap_project(SPEC)
def test_every_test_gets_a_fresh_copy(localcap_project):
    assert [r["record_id"] for r in records(localcap_project, "full")] == ["1", "2"]


@pytest.mark.localcap_project(SPEC)
@pytest.mark.localcap_records([{"record_id": "7", "name": "Eve"}])
@pytest.mark.localcap_file("7", "upload", b"hello", filename="hello.txt")
def test_markers_seed_records_and_files(localcap_project):
    assert [r["record_id"] for r in records(localcap_project, "full")] == ["1", "2", "7"]
    content = localcap_project.call("full", content="file", action="export", record="7",
                                    field="upload")
    assert content == b"hello"


@pytest.mark.localcap_project(dictionary="dictionary.csv", records=[{"study_id": "s1", "age": "40"}])
def test_from_a_data_dictionary(localcap_project):
    assert localcap_project.json(content="exportFieldNames")[1]["original_field_name"] == "age"
    assert records(localcap_project, None) == [{"study_id": "s1", "age": "40", "form_a_complete": "0"}]


@pytest.mark.localcap_project(xml="project.xml", users=[User("reader")])
def test_from_a_project_xml_with_pycap(localcap_project):
    import redcap

    project = redcap.Project(localcap_project.url, localcap_project.tokens["reader"])
    assert len(project.export_records()) > 0
"""

DICTIONARY = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note",'
    '"Text Validation Type OR Show Slider Number","Text Validation Min",'
    '"Text Validation Max",Identifier?,"Branching Logic (Show field only if...)",'
    '"Required Field?","Custom Alignment","Question Number (surveys only)",'
    '"Matrix Group Name","Matrix Ranking?","Field Annotation"\n'
    "study_id,form_a,,text,Study ID,,,,,,,,,,,,,\n"
    "age,form_a,,text,Age,,,integer,,,,,,,,,,\n"
)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()


def test_a_suite_using_the_fixtures_passes_and_cleans_up(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "dictionary.csv").write_text(DICTIONARY)
    shutil.copy(REDCAP_PROJECTS / "pycap_test_simple_project.xml", pytester.path / "project.xml")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)
    pid, data_dir = (pytester.path / "server.txt").read_text().splitlines()
    assert not _process_alive(int(pid)), "the started server is still running"
    assert not Path(data_dir).exists(), "the server's temporary data was left behind"


def test_a_failing_test_fails_and_a_bad_seed_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_failing="""
import pytest

def test_wrong_count(localcap_project):
    assert localcap_project.json(content="record") == [{"record_id": "1"}]

@pytest.mark.localcap_records([{"no_such_field": "1", "record_id": "1"}])
def test_bad_seed(localcap_project):
    pass

def test_fine(localcap_project):
    assert localcap_project.json(content="record") == []
"""
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*no_such_field*"])


def test_a_running_server_is_used_and_left_running(pytester: pytest.Pytester) -> None:
    server = start_server()
    try:
        pytester.makepyfile(
            test_remote="""
def test_uses_it(localcap_server, localcap_project):
    assert localcap_server.process is None
    assert localcap_project.json(content="project")["project_id"] > 0
"""
        )
        args = ["-q", "-p", "no:cacheprovider", "--localcap-url", server.url]
        result = pytester.runpytest_subprocess(*args, "--localcap-super-token", server.super_token)
        result.assert_outcomes(passed=1)
        assert server.process is not None and server.process.poll() is None
        assert server.admin("info")["username"] == "site_admin"

        result = pytester.runpytest_subprocess(*args, "--localcap-super-token", "A" * 64)
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*super token is not accepted*"])
    finally:
        server.stop()


def test_the_started_server_can_use_postgresql(pytester: pytest.Pytester, pg_server) -> None:
    from support import postgres

    url = postgres.create_database(pg_server, "localcap_plugin")
    pytester.makepyfile(
        test_pg="""
def test_on_postgresql(localcap_server, localcap_project):
    assert localcap_server.process is not None
    localcap_project.import_records([{"record_id": "1"}])
    assert localcap_project.json(content="record") == [{"record_id": "1", "form_1_complete": "0"}]
"""
    )
    result = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", "--localcap-database-url", url
    )
    result.assert_outcomes(passed=1)
    with pg_server.connect(autocommit=True) as conn:
        count = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'localcap_plugin'"
        ).fetchone()[0]
    assert count == 0  # the server's connections went with it
    with pg_server.connect("localcap_plugin", autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM projects").fetchone()[0] >= 1
