"""The pytest plugin (entry point ``pytest11``: loaded wherever localcap is installed).

Fixtures:

- ``localcap_server`` (session): ``localcap serve --admin-api`` on a free loopback port with
  its data in a temporary directory, stopped and deleted at the end of the session; or, with
  ``--localcap-url URL --localcap-super-token T`` (``LOCALCAP_URL``/``LOCALCAP_SUPER_TOKEN``),
  a server already running (started with ``--admin-api``), left as it is.
- ``localcap_project`` (function): a fresh copy of the test's project (``url``, ``project_id``,
  ``token``, ``tokens[username]``), described by the ``localcap_project`` marker or, for a
  whole module or directory, by overriding the ``localcap_project_spec`` fixture.

Markers: ``localcap_project(spec | **ProjectSpec fields)``, ``localcap_records(rows)`` and
``localcap_file(record, field, content, filename=..., event=..., repeat_instance=...)`` seed
the test's copy (imported with the creator's full-rights token).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from localcap.testing.project import LocalcapProject, ProjectSpec, fresh_project
from localcap.testing.server import LocalcapServer, connect, start_server


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("localcap", "localcap, a REDCap API test double")
    group.addoption(
        "--localcap-url",
        default=os.environ.get("LOCALCAP_URL"),
        help="Use the localcap server already running at this URL (started with --admin-api) "
        "instead of starting one. Default: $LOCALCAP_URL.",
    )
    group.addoption(
        "--localcap-super-token",
        default=os.environ.get("LOCALCAP_SUPER_TOKEN"),
        help="A super token of that server (`localcap token super`). Default: "
        "$LOCALCAP_SUPER_TOKEN.",
    )
    group.addoption(
        "--localcap-database-url",
        default=os.environ.get("LOCALCAP_TEST_SERVER_DATABASE_URL"),
        help="The database the started server uses (default: SQLite in its temporary "
        "directory). Default: $LOCALCAP_TEST_SERVER_DATABASE_URL.",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "localcap_project(spec=None, **fields): the ProjectSpec the localcap_project fixture "
        "copies for this test",
        "localcap_records(rows): records imported into this test's localcap_project",
        "localcap_file(record, field, content, filename='file.txt', event=None, "
        "repeat_instance=None): a file uploaded into this test's localcap_project",
    ):
        config.addinivalue_line("markers", line)


@pytest.fixture(scope="session")
def localcap_server(pytestconfig: pytest.Config) -> Iterator[LocalcapServer]:
    """A localcap server for the whole session (see the module docstring)."""
    url = pytestconfig.getoption("localcap_url")
    if url:
        token = pytestconfig.getoption("localcap_super_token")
        if not token:
            raise pytest.UsageError("--localcap-url needs --localcap-super-token")
        yield connect(url, token)
        return
    server = start_server(pytestconfig.getoption("localcap_database_url"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def localcap_project_spec(request: pytest.FixtureRequest) -> ProjectSpec:
    """The project ``localcap_project`` copies: the ``localcap_project`` marker's, else a
    one-field project. Override this fixture to give a module or directory its project."""
    marker = request.node.get_closest_marker("localcap_project")
    if marker is None:
        return ProjectSpec()
    if marker.args:
        if len(marker.args) != 1 or not isinstance(marker.args[0], ProjectSpec) or marker.kwargs:
            raise pytest.UsageError(
                "localcap_project takes one ProjectSpec, or ProjectSpec's fields as keywords"
            )
        return marker.args[0]
    return ProjectSpec(**marker.kwargs)


@pytest.fixture
def localcap_project(
    request: pytest.FixtureRequest,
    localcap_server: LocalcapServer,
    localcap_project_spec: ProjectSpec,
) -> LocalcapProject:
    """A fresh project for this test, seeded by its ``localcap_records``/``localcap_file``
    markers (see the module docstring)."""
    spec = localcap_project_spec.resolved(request.path.parent)
    project = fresh_project(localcap_server, spec)
    for marker in reversed(list(request.node.iter_markers("localcap_records"))):
        project.import_records(*marker.args, **marker.kwargs)
    for marker in reversed(list(request.node.iter_markers("localcap_file"))):
        project.upload_file(*marker.args, **marker.kwargs)
    return project
