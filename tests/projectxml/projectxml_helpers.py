"""Creating projects from a REDCap project XML over HTTP, as PyCap's integration suite does."""

from __future__ import annotations

import re

import requests

from builders import Api
from liveserver import REDCAP_PROJECTS, LiveServer

FIXTURES = REDCAP_PROJECTS


def project_info_xml(title: str, purpose: int = 0) -> str:
    """PyCap's ``tests/integration/conftest.py`` sends exactly this shape as ``data``."""
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
    <item>
    <project_title>{title}</project_title>
    <purpose>{purpose}</purpose>
    </item>"""


def post_odm(server: LiveServer, odm: str | bytes, title: str = "Imported") -> requests.Response:
    """Create Project with ``odm`` in PyCap's request shape (form field, format=xml)."""
    return requests.post(
        url=server.url,
        data={
            "token": server.super_token,
            "content": "project",
            "format": "xml",
            "data": project_info_xml(title),
            "odm": odm,
        },
        timeout=120,
    )


def create_from_odm(server: LiveServer, odm: str | bytes, title: str = "Imported") -> Api:
    response = post_odm(server, odm, title)
    assert response.status_code == 200, response.text
    token = response.text[-32:]
    assert re.fullmatch(r"[0-9A-F]{32}", token), response.text
    return Api(server, token)


def create_from_fixture(server: LiveServer, name: str, title: str | None = None) -> Api:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return create_from_odm(server, text, title or name)


def export_xml(api: Api, **params: str) -> str:
    return api.ok(content="project_xml", **params).text


_VOLATILE = (
    (re.compile(r'(AsOfDateTime|CreationDateTime)="[^"]*"'), r'\1="-"'),
    (re.compile(r"Metadata\.([A-Za-z0-9]*)_\d{4}-\d{2}-\d{2}_\d{4}"), r"Metadata.\1_-"),
)


def normalised(xml: str) -> str:
    """A project XML without what differs between two exports of equal projects (dates)."""
    for pattern, replacement in _VOLATILE:
        xml = pattern.sub(replacement, xml)
    return xml
