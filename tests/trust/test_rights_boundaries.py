"""Rights as a boundary for the newer methods: expired users, missing rights, no partial write.

REDCap suspends a user from a project once the user's expiration date has passed; the API then
answers as for a token without API rights. Every method that needs a right answers REDCap's
403 without it, and leaves the project as it was.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from builders import Api, clinical_classic, user_api

TODAY = date.today()


@pytest.fixture(scope="module")
def project(server) -> Api:
    api = clinical_classic(server, repeating=False)
    api.import_json("record", [{"record_id": "1", "first_name": "IDENT1"}])
    return api


@pytest.mark.parametrize(
    ("days", "allowed"),
    [(-1, False), (-400, False), (0, True), (1, True), (None, True)],
)
def test_an_expired_user_is_refused_everything(project, days, allowed):
    expiration = "" if days is None else (TODAY + timedelta(days=days)).isoformat()
    username = f"expiring_{'never' if days is None else days}".replace("-", "m")
    user = user_api(
        project, username, expiration=expiration, user_rights=1, file_repository=1, data_export=1
    )
    for params in (
        {"content": "record", "format": "json"},
        {"content": "project", "format": "json"},
        {"content": "userRole", "format": "json"},
        {"content": "fileRepository", "action": "list", "format": "json"},
        {"content": "pdf", "record": "1"},
        {"content": "record", "format": "json", "type": "eav"},
    ):
        response = user.call(**params)
        if allowed:
            assert response.status_code == 200, (params, response.text)
        else:
            assert response.status_code == 403, (params, response.text)
            assert "IDENT1" not in response.text


@pytest.mark.parametrize("bad", ["tomorrow", "2024-13-01", "20240101", "2024-1-1", "9" * 40])
def test_an_expiration_that_is_not_a_date_is_refused_and_nothing_is_written(project, bad):
    response = project.call(
        content="user",
        action="import",
        format="json",
        data=[{"username": "first_ok"}, {"username": "badexp", "expiration": bad}],
    )
    assert response.status_code == 400, response.text
    assert "YYYY-MM-DD" in response.json()["error"]
    users = {u["username"] for u in project.json(content="user")}
    assert "first_ok" not in users and "badexp" not in users
