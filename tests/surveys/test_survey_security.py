"""Survey page security: signed form tokens tied to their link (issue 20 item 7), and the
access-code limit behind proxies (item 2), the latter against `localcap serve` as users run it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from survey_helpers import csrf_of, link_for, open_form, post_page, record, survey_project

from liveserver import CliServer, free_port, start_cli_server
from localcap.server import build_app


def test_a_forged_double_submit_is_refused(server):
    api = survey_project(server)
    link = link_for(api)
    session = requests.Session()
    session.cookies.set("localcap_survey_csrf", "A" * 43)
    forged = session.post(link, data={"csrf": "A" * 43, "full_name": "Mallory"}, timeout=30)
    assert forged.status_code == 403 and record(api)["full_name"] == ""
    # a token signed for one link does not open another, even in the same browser
    session, page, token = open_form(link)
    other = link_for(api, "2")
    session.get(other, timeout=30)
    posted = session.post(other, data={"csrf": token, "full_name": "Mallory"}, timeout=30)
    assert posted.status_code == 403 and record(api, "2")["full_name"] == ""
    assert post_page(session, link, page, full_name="Ada").status_code == 200


def test_the_signing_key_is_shared_by_every_server_on_the_database(server, tmp_path):
    api = survey_project(server)
    link = link_for(api)
    session, page, _ = open_form(link)
    url = None
    if server.backend == "postgresql":
        url = server.engine.url.render_as_string(hide_password=False)
    # a second server process on the same database (no new super token: that would revoke
    # the session server's)
    app = build_app(server.data_dir if url is None else tmp_path, url, None)
    port = free_port()
    other = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=other.run, daemon=True)
    thread.start()
    try:
        while not other.started:
            time.sleep(0.02)
        moved = link.replace(link.split("/")[2], f"127.0.0.1:{port}")
        assert post_page(session, moved, page, full_name="Ada").status_code == 200
    finally:
        other.should_exit = True
        thread.join(timeout=10)
        app.state.localcap.engine.dispose()
    assert record(api)["full_name"] == "Ada"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    """`localcap serve` with its defaults: no proxy is trusted."""
    server = start_cli_server(tmp_path_factory.mktemp("plain"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    """`localcap serve --forwarded-allow-ips 127.0.0.1`: behind a proxy on this machine."""
    server = start_cli_server(
        tmp_path_factory.mktemp("proxied"), "--forwarded-allow-ips", "127.0.0.1"
    )
    yield server
    server.stop()


def try_code(server: CliServer, **headers: str) -> requests.Response:
    """A new browser (from the address the headers claim) tries a wrong access code."""
    session = requests.Session()
    url = server.url.removesuffix("api/") + "surveys/"
    token = csrf_of(session.get(url, headers=headers, timeout=30).text)
    return session.post(url, data={"csrf": token, "code": "AAAAAAAAA"}, headers=headers, timeout=30)


def test_forwarded_for_is_not_believed_by_default(plain):
    answers = [
        try_code(plain, **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(12)
    ]
    assert answers[:10] == [404] * 10 and answers[10:] == [429, 429]


def test_a_trusted_proxy_names_the_client_ipv6_counts_by_64_and_all_share_a_ceiling(proxied):
    by_64 = [
        try_code(proxied, **{"X-Forwarded-For": f"2001:db8:1:2::{i:x}"}).status_code
        for i in range(12)
    ]
    assert by_64[:10] == [404] * 10 and by_64[10:] == [429, 429]
    # other clients have their own buckets, up to the ceiling of 100 a minute in all
    spread = [
        try_code(proxied, **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(95)
    ]
    assert spread[:90] == [404] * 90 and set(spread[90:]) == {429}


def test_https_behind_a_trusted_proxy_gets_a_secure_host_cookie(proxied, plain):
    url = proxied.url.removesuffix("api/") + "surveys/"
    secure = requests.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=30)
    cookie = secure.headers["set-cookie"]
    assert cookie.startswith("__Host-localcap_survey_csrf=") and "Secure" in cookie
    assert "Path=/;" in cookie or cookie.rstrip().endswith("Path=/")
    # from a client nobody vouches for, the header means nothing
    url = plain.url.removesuffix("api/") + "surveys/"
    cookie = requests.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=30).headers[
        "set-cookie"
    ]
    assert cookie.startswith("localcap_survey_csrf=") and "Secure" not in cookie


@pytest.mark.parametrize(
    "forwarded",
    ["garbage", "", "::::", "1.2.3.4, evil", "[::1]:80", "300.1.1.1", "fe80::1%eth0", "x" * 4000],
)
def test_hostile_forwarded_headers_are_pages(proxied, forwarded):
    answer = try_code(proxied, **{"X-Forwarded-For": forwarded, "X-Forwarded-Proto": forwarded})
    assert answer.status_code in (404, 429), answer.text[:200]
