"""Several `localcap serve` processes sharing one database (issue 18): what one process
counts or changes, the others see at once. On SQLite and on PostgreSQL, as users run it (the
`localcap` command in processes of its own)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from builders import Api, clinical_classic, create_project, project_id
from liveserver import CliServer, free_port, spawn_cli_server
from localcap.db.engine import open_database
from localcap.db.projects import ensure_user
from localcap.db.tokens import create_super_token
from support import postgres


@dataclass
class SharedDatabase:
    """A database (and data directory) several servers use: ``url`` None is SQLite."""

    data_dir: Path
    url: str | None
    backend: str

    def options(self) -> list[str]:
        return ["--database-url", self.url] if self.url else []

    def serve(self, super_token: str, *options: str) -> CliServer:
        port = free_port()
        process = spawn_cli_server(self.data_dir, port, *self.options(), *options)
        return CliServer(
            f"http://127.0.0.1:{port}/api/", self.data_dir, super_token, process, self.backend
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> SharedDatabase:
    url = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg_server")
        url = postgres.create_database(pg, f"localcap_shared_{tmp_path.name[-20:]}")
    return SharedDatabase(tmp_path, url, request.param)


def _super_token(shared: SharedDatabase) -> str:
    engine = open_database(shared.data_dir, shared.url)
    with engine.begin() as conn:
        ensure_user(conn, "admin", super_user=True)
        token = create_super_token(conn, "admin")
    engine.dispose()
    return token


@contextmanager
def _two_servers(shared: SharedDatabase, *options: str) -> Iterator[tuple[CliServer, CliServer]]:
    token = _super_token(shared)
    first = shared.serve(token, *options)
    try:
        second = shared.serve(token, *options)
    except Exception:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture
def limited_servers(shared: SharedDatabase) -> Iterator[tuple[CliServer, CliServer]]:
    """Two servers: 8 API calls a minute per user, 4 with an invalid token per address."""
    with _two_servers(shared, "--rate-limit", "8", "--invalid-token-limit", "4") as servers:
        yield servers


@pytest.fixture
def two_servers(shared: SharedDatabase) -> Iterator[tuple[CliServer, CliServer]]:
    with _two_servers(shared, "--rate-limit", "0") as servers:
        yield servers


def _within_one_minute() -> None:
    """Wait for the next minute if this one is nearly over: the calls of a test then fall in
    one window, where the count is exact (across a boundary it is an estimate)."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


def _late_field(metadata: list[dict[str, str]]) -> dict[str, str]:
    """A new text field at the end of the last instrument."""
    text = next(f for f in metadata[1:] if f["field_type"] == "text")
    return {
        **text,
        "field_name": "late_field",
        "field_label": "Late",
        "form_name": metadata[-1]["form_name"],
        "text_validation_type_or_show_slider_number": "",
        "branching_logic": "",
        "required_field": "",
    }


def _statuses(apis: list[Api], calls: int) -> list[int]:
    return [
        apis[i % len(apis)].call(content="version", format="json").status_code for i in range(calls)
    ]


def test_the_rate_limit_holds_across_processes(limited_servers):
    """Each process used to count in its own memory: two processes gave a user twice the
    limit (16 calls of 16 here, instead of 8)."""
    first, second = limited_servers
    _within_one_minute()
    api = create_project(first)
    # admin's creating call was the first of 8: at most 7 more are allowed, from either
    # process together (calls of the previous minute, other tests', may still count: the
    # window slides), then every call is refused. Counted per process, 15 would pass.
    statuses = _statuses([Api(second, api.token), api], 16)
    allowed = statuses.count(200)
    assert 1 <= allowed <= 7, statuses
    assert statuses == [200] * allowed + [429] * (16 - allowed), statuses
    # calls with an invalid token, per client address: at most 4 in all (the token-less
    # calls that waited for each server to answer count too), not 4 per process
    invalid = _statuses([Api(first, "0" * 32), Api(second, "0" * 32)], 8)
    refused = invalid.count(403)
    assert 1 <= refused <= 4, invalid
    assert invalid == [403] * refused + [429] * (8 - refused), invalid


def test_a_design_change_is_seen_at_once_by_the_other_process(two_servers, shared):
    first, second = two_servers
    api_first = clinical_classic(first, repeating=False)
    api_second = Api(second, api_first.token)
    names = [f["field_name"] for f in api_second.json(content="metadata")]  # second caches it
    assert "late_field" not in names
    metadata = api_first.json(content="metadata")
    metadata.append(_late_field(metadata))
    assert api_first.import_json("metadata", metadata) == len(metadata)
    # the second process answers with the new design, for reads and for writes
    assert "late_field" in [f["field_name"] for f in api_second.json(content="metadata")]
    assert api_second.import_json("record", [{"record_id": "1", "late_field": "x"}]) == {"count": 1}
    rows = api_first.json(content="record", records="1", fields="record_id,late_field")
    assert rows[0]["late_field"] == "x"
    # a design change made by a command (a third process): an instrument becomes a survey
    info = api_second.json(content="project")
    assert info["surveys_enabled"] == 0
    form = metadata[-1]["form_name"]
    subprocess.run(
        [
            str(Path(first.process.args[0])),
            "survey",
            "enable",
            "--data-dir",
            str(shared.data_dir),
            *shared.options(),
            "--project",
            str(project_id(api_first)),
            "--instrument",
            form,
        ],
        check=True,
        capture_output=True,
    )
    assert api_second.json(content="project")["surveys_enabled"] == 1
    assert api_first.json(content="project")["surveys_enabled"] == 1


def test_serve_with_workers(shared):
    """`localcap serve --workers 2`: one limit for the user across the workers, every
    acknowledged import there, and a design change seen by every worker at once."""
    token = _super_token(shared)
    server = shared.serve(token, "--workers", "2", "--rate-limit", "30")
    try:
        _within_one_minute()
        api = clinical_classic(server)  # 3 calls of admin's 30
        rows = [{"record_id": str(n), "first_name": f"P{n}"} for n in range(1, 13)]
        for row in rows:  # each call on a new connection: the workers take turns
            assert api.import_json("record", [row]) == {"count": 1}
        assert len(api.json(content="record", fields="record_id")) == len(rows)
        metadata = api.json(content="metadata")
        metadata.append(_late_field(metadata))
        assert api.import_json("metadata", metadata) == len(metadata)
        for _ in range(6):  # whichever worker answers, it knows the new field
            assert (
                "late_field"
                in api.json(content="exportFieldNames", field="late_field")[0][
                    "original_field_name"
                ]
            )
        # 3 + 12 + 1 + 2 + 6 = 24 calls so far; 6 more are allowed, then 429s
        statuses = _statuses([api], 12)
        assert statuses == [200] * 6 + [429] * 6, statuses
    finally:
        server.stop()


def test_survey_access_code_tries_are_counted_across_processes(limited_servers):
    """10 wrong access codes a minute per client address (the default), for both processes
    together: each used to allow 10 of its own."""
    first, second = limited_servers
    _within_one_minute()
    session = requests.Session()
    statuses = []
    for n in range(14):
        url = (first if n % 2 else second).url.removesuffix("api/") + "surveys/"
        page = session.get(url, timeout=30).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf, page[:300]
        guess = {"csrf": csrf.group(1), "code": f"WRONG{n:04d}"}
        statuses.append(session.post(url, data=guess, timeout=30).status_code)
    assert statuses == [404] * 10 + [429] * 4, statuses
