"""``POST /admin/``'s tokens action and its limits (snapshots: test_snapshots.py)."""

from __future__ import annotations

import pytest
import requests

from builders import create_project, user_api
from liveserver import LiveServer, start_server


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory) -> LiveServer:
    live = start_server(tmp_path_factory.mktemp("admin"), None, "sqlite", admin_api=True)
    yield live
    live.stop()


def admin(server: LiveServer, **data: str) -> requests.Response:
    url = server.url.replace("/api/", "/admin/")
    return requests.post(url, data={"token": server.super_token, **data}, timeout=30)


def test_tokens_for_project_users_replace_their_old_ones(admin_server):
    api = create_project(admin_server)
    bob = user_api(api, "bob")
    pid = api.json(content="project")["project_id"]
    answer = admin(admin_server, action="tokens", project_id=str(pid), usernames="bob,admin")
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"bob", "admin"}
    assert bob.call(content="version").status_code == 403  # the old token is gone
    bob.token = tokens["bob"]
    assert bob.call(content="version").status_code == 200


def test_tokens_are_all_or_none(admin_server):
    api = create_project(admin_server)
    pid = api.json(content="project")["project_id"]
    answer = admin(admin_server, action="tokens", project_id=str(pid), usernames="admin,nobody")
    assert answer.status_code == 404
    assert answer.json() == {
        "error": f"Not users of project {pid}: nobody. Add them first (content=user&action=import)."
    }
    assert api.call(content="version").status_code == 200  # admin's token was not replaced
    answer = admin(admin_server, action="tokens", project_id="x", usernames="admin")
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": 'The parameter "project_id" must be an integer'},
    )


def test_only_small_form_bodies(admin_server):
    url = admin_server.url.replace("/api/", "/admin/")
    big = requests.post(
        url, data={"token": admin_server.super_token, "x": "y" * 70_000}, timeout=30
    )
    assert big.status_code == 413
    multipart = requests.post(
        url, files={"token": (None, admin_server.super_token), "action": (None, "info")}, timeout=30
    )
    assert (multipart.status_code, multipart.json()) == (
        400,
        {"error": "The admin endpoint takes a form-encoded POST body"},
    )
    assert requests.get(url, timeout=30).status_code == 405
    assert admin(admin_server, action="info").json()["username"] == "admin"
