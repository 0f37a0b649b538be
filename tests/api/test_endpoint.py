"""The endpoint itself: methods, bodies, tokens, content/action dispatch and error formats."""

from __future__ import annotations

import requests

from builders import create_project

NO_PERMISSION = "You do not have permissions to use the API"


def test_get_is_not_implemented(server):
    # REDCap's installation checks look for exactly this text on GET /api/.
    response = requests.get(server.url, timeout=10)
    assert response.status_code == 501
    assert response.text == "The requested method is not implemented."


def test_other_paths_are_not_api(server):
    response = requests.post(server.url.replace("/api/", "/nope/"), data={}, timeout=10)
    assert response.status_code == 404
    assert "error" not in response.text.lower() or "<hash>" not in response.text


def test_missing_token_is_403_in_xml_by_default(server):
    response = requests.post(server.url, data={"content": "version"}, timeout=10)
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.text == (
        f'<?xml version="1.0" encoding="UTF-8" ?><hash><error>{NO_PERMISSION}</error></hash>'
    )


def test_bad_token_in_each_format(server):
    for fmt, body, media in [
        ("json", '{"error":"You do not have permissions to use the API"}', "application/json"),
        ("csv", f"ERROR: {NO_PERMISSION}", "text/csv"),
    ]:
        response = requests.post(
            server.url,
            data={"token": "0" * 32, "content": "version", "format": fmt},
            timeout=10,
        )
        assert response.status_code == 403
        assert response.text == body
        assert response.headers["content-type"] == f"{media}; charset=utf-8"


def test_return_format_wins_over_format(server):
    response = requests.post(
        server.url,
        data={"token": "nothex" * 5, "content": "record", "format": "json", "returnFormat": "csv"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.text == f"ERROR: {NO_PERMISSION}"


def test_unknown_return_format_means_xml(server):
    response = requests.post(
        server.url, data={"token": "x", "content": "record", "returnFormat": "yaml"}, timeout=10
    )
    assert response.status_code == 403
    assert "<error>" in response.text


def test_token_checked_before_content(server):
    response = requests.post(
        server.url, data={"token": "A" * 31, "content": "nonsense"}, timeout=10
    )
    assert response.status_code == 403


def test_valid_token_unknown_or_missing_content(server):
    api = create_project(server)
    for content in ("nonsense", ""):
        response = api.call(content=content, format="json")
        assert response.status_code == 400
        assert response.json() == {"error": 'The value of the parameter "content" is not valid'}


def test_unknown_action_is_400(server):
    api = create_project(server)
    response = api.call(content="arm", action="explode", format="json")
    assert response.status_code == 400
    assert response.json() == {"error": 'The value of the parameter "action" is not valid'}


def test_version_is_plain_text(server):
    api = create_project(server)
    response = api.ok(content="version")
    assert response.text == "16.1.3"


def test_lowercase_token_is_accepted(server):
    api = create_project(server)
    assert api.token == api.token.upper() and len(api.token) == 32
    response = requests.post(
        server.url, data={"token": api.token.lower(), "content": "version"}, timeout=10
    )
    assert response.status_code == 200


def test_multipart_bodies_work_for_every_method(server):
    # redcapAPI sends everything as multipart/form-data.
    api = create_project(server, "Multipart")
    fields = {"token": (None, api.token), "content": (None, "metadata"), "format": (None, "json")}
    response = requests.post(server.url, files=fields, timeout=10)
    assert response.status_code == 200
    assert response.json()[0]["field_name"] == "record_id"


def test_super_token_cannot_read_projects(server):
    response = server.post(token=server.super_token, content="record", format="json")
    assert response.status_code == 403
    assert response.json() == {"error": NO_PERMISSION}


def test_project_token_cannot_create_projects(server):
    api = create_project(server)
    response = api.call(
        content="project", format="json", data='[{"project_title":"x","purpose":0}]'
    )
    assert response.status_code == 403


def test_malformed_multipart_is_a_clear_400(server):
    response = requests.post(
        server.url,
        data=b"--broken\r\nnonsense",
        headers={"content-type": "multipart/form-data; boundary=zzz"},
        timeout=10,
    )
    assert response.status_code in (400, 403)
    assert "<error>" in response.text
