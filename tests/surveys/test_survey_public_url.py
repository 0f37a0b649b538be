"""``localcap serve --public-url``: survey links point where participants reach the server
(behind a proxy), not at the address it listens on. Runs the real CLI server, in its own
process; nothing is ever sent to the public address."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from survey_helpers import link_for, save_for_later, survey_project

from liveserver import CliServer, start_cli_server

PUBLIC = "http://example.test/redcap"


@contextmanager
def cli_server(data_dir: Path, *options: str) -> Iterator[CliServer]:
    server = start_cli_server(data_dir, *options)
    try:
        yield server
    finally:
        server.stop()


def test_links_use_the_public_url(tmp_path):
    with cli_server(tmp_path, "--public-url", PUBLIC + "/") as server:
        api = survey_project(server, "--queue", "--save-and-return")
        link = link_for(api)
        queue = api.ok(content="surveyQueueLink", record="1").text
        assert link.startswith(f"{PUBLIC}/surveys/?s=") and len(link.rsplit("=")[-1]) == 16
        assert queue.startswith(f"{PUBLIC}/surveys/?sq=")
        listed = api.json(content="participantList", instrument="intake")[0]
        assert (listed["survey_link"], listed["survey_queue_link"]) == (link, queue)
        # the page itself is served here; the link it shows after a save is the public one
        local = link.replace(PUBLIC, server.url.removesuffix("/api/"))
        saved = save_for_later(local, full_name="Ada")
        assert f'id="survey-link">{link}<' in saved.text


def test_without_it_links_use_the_servers_own_address(tmp_path):
    with cli_server(tmp_path) as server:
        api = survey_project(server, "--queue")
        own = server.url.removesuffix("api/")  # http://127.0.0.1:<port>/
        assert link_for(api).startswith(f"{own}surveys/?s=")
        assert api.ok(content="surveyQueueLink", record="1").text.startswith(f"{own}surveys/?sq=")
