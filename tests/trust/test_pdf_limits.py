"""Export PDF's work is bounded (issue 14 item 9): long texts are cut with a note, more than
``MAX_PAGES`` pages is a 400, the work stops when the client goes away, and a SIGTERM stops a
server in the middle of a long PDF."""

from __future__ import annotations

import json
import signal
import socket
import time
from urllib.parse import urlencode, urlparse

import requests
from sqlalchemy import select

from api.test_pdf import pages, pdf
from builders import Api, clinical_classic, create_project, field, project_id
from liveserver import start_cli_server
from localcap.db import schema as t
from localcap.pdf.render import MAX_PAGES, MAX_TEXT


def notes_project(api: Api, records: int, size: int) -> None:
    """``records`` records whose notes hold ``size`` characters each."""
    words = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[:size]
    for start in range(1, records + 1, 20):
        rows = [
            {"record_id": str(i), "notes": words}
            for i in range(start, min(start + 20, records + 1))
        ]
        api.import_json("record", rows)


def test_a_long_value_is_cut_with_a_note(server):
    api = clinical_classic(server)
    notes_project(api, 1, 400_000)
    started = time.monotonic()
    text = "\n".join(pages(pdf(api, record="1", instrument="demographics")))
    assert time.monotonic() - started < 10  # was 29 s
    assert f"{400_000 - MAX_TEXT:,} more characters not shown in the PDF" in text


def test_more_than_max_pages_is_a_400(server):
    api = create_project(server, "Many pages")
    api.import_json("metadata", [field("record_id", "visit"), field("v", "visit")])
    api.import_json("repeatingFormsEvents", [{"form_name": "visit", "custom_form_label": ""}])
    rows = [
        {"record_id": "1", "redcap_repeat_instrument": "visit", "redcap_repeat_instance": n}
        for n in range(1, MAX_PAGES + 2)
    ]
    api.import_json("record", rows)
    response = api.call(content="pdf", record="1", returnFormat="json")
    assert response.status_code == 400, response.text[:200]
    assert f"more than {MAX_PAGES:,} pages" in response.json()["error"]


def _start_pdf(url: str, token: str) -> socket.socket:
    """An ``allRecords`` PDF request, sent by hand so that the test can walk away from it."""
    target = urlparse(url)
    body = urlencode({"token": token, "content": "pdf", "allRecords": "1"}).encode()
    sock = socket.create_connection((target.hostname, target.port))
    sock.sendall(
        b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (target.path.encode(), len(body), body)
    )
    return sock


def test_the_work_stops_when_the_client_goes_away(server):
    api = clinical_classic(server)
    notes_project(api, 400, MAX_TEXT)  # minutes of drawing
    sock = _start_pdf(server.url, api.token)
    time.sleep(1.5)
    sock.close()
    deadline = time.monotonic() + 20
    status = None
    while time.monotonic() < deadline and status is None:
        time.sleep(0.5)
        with server.engine.connect() as conn:
            status = conn.execute(
                select(t.audit_log.c.status).where(
                    t.audit_log.c.content == "pdf", t.audit_log.c.project_id == project_id(api)
                )
            ).scalar()
    assert status == 499  # given up, and logged as such, well before it could finish


def test_sigterm_stops_a_server_drawing_a_long_pdf(tmp_path):
    server = start_cli_server(tmp_path)
    try:
        response = requests.post(
            server.url,
            data={
                "token": server.super_token,
                "content": "project",
                "format": "json",
                "data": json.dumps([{"project_title": "P", "purpose": 0}]),
            },
            timeout=30,
        )
        api = Api(server, response.text)  # type: ignore[arg-type]
        api.import_json("metadata", [field("record_id", "f"), field("notes", "f", "notes")])
        notes_project(api, 400, MAX_TEXT)
        sock = _start_pdf(server.url, api.token)
        time.sleep(2)
        server.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        server.process.wait(timeout=30)  # hung for ever before
        assert time.monotonic() - started < 20
        sock.close()
    finally:
        if server.process.poll() is None:
            server.process.kill()
