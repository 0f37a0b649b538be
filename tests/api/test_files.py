"""Export / Import / Delete File over HTTP, as REDCap's clients call them.

Plain ``requests`` as in REDCap's own API examples, ``curl`` for header parsing, and
redcaplite for the "save under the name in the header" path. Every test runs on SQLite and
PostgreSQL (the ``server`` fixture).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from builders import (
    CLINICAL_DICTIONARY,
    Api,
    clinical_classic,
    clinical_longitudinal,
    field,
    project_id,
    user_api,
)
from localcap.db import schema as t
from localcap.db.transactions import read_snapshot
from localcap.files.local import LocalFileStore
from localcap.files.names import DOWNLOAD_CSP

#: The clinical dictionary plus an identifier-tagged file field (demographics, not designated
#: for visit_2_arm_1) and a file field on the repeating adverse_events instrument.
DICTIONARY = [
    *CLINICAL_DICTIONARY[:8],
    field("id_doc", "demographics", "file", "ID document", identifier="y"),
    *CLINICAL_DICTIONARY[8:],
    field("ae_photo", "adverse_events", "file", "AE photo"),
]


def png(width: int = 3, height: int = 2) -> bytes:
    """A small valid PNG (what a signature field holds)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def classic(server: Any) -> Api:
    api = clinical_classic(server)
    assert api.import_json("metadata", DICTIONARY) == len(DICTIONARY)
    return api


def longitudinal(server: Any) -> Api:
    api = clinical_longitudinal(server)
    assert api.import_json("metadata", DICTIONARY) == len(DICTIONARY)
    return api


def upload(
    api: Api, record: str, fld: str, content: bytes, name: str = "f.bin", **params: Any
) -> requests.Response:
    return api.call(
        content="file",
        action="import",
        record=record,
        field=fld,
        files={"file": (name, content)},
        **params,
    )


def export(api: Api, record: str, fld: str, **params: Any) -> requests.Response:
    return api.call(content="file", action="export", record=record, field=fld, **params)


def delete(api: Api, record: str, fld: str, **params: Any) -> requests.Response:
    return api.call(content="file", action="delete", record=record, field=fld, **params)


def header_name(response: requests.Response) -> str:
    """The name parameter of Content-Type, as a standards parser reads it."""
    message = Message()
    message["content-type"] = response.headers["content-type"]
    return str(message.get_param("name"))


def assert_download_headers(response: requests.Response, body: bytes) -> None:
    assert response.status_code == 200, response.text
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["content-security-policy"] == DOWNLOAD_CSP
    assert [k for k, v in response.headers.items() if "name=" in v.lower()] == ["content-type"]


def documents(api: Api) -> list[Any]:
    pid = project_id(api)
    with read_snapshot(api.server.engine) as conn:
        return list(conn.execute(select(t.documents).where(t.documents.c.project_id == pid)))


def store_keys(api: Api) -> set[str]:
    return set(LocalFileStore(api.server.data_dir / "files").iter_keys())


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("pixel.png", png(), "image/png"),
        ("report.pdf", PDF, "application/pdf"),
        ("noise.bin", os.urandom(300_000) + b"\x00\r\n\x1a" + os.urandom(5), None),
        ("empty.dat", b"", "application/octet-stream"),
    ],
)
def test_binary_round_trip_is_byte_identical(server, name, content, mime):
    api = classic(server)
    api.import_json("record", [{"record_id": "1", "first_name": "A"}])
    response = upload(api, "1", "scan", content, name)
    assert response.status_code == 200, response.text
    assert response.content == b""
    got = export(api, "1", "scan")
    assert_download_headers(got, content)
    if mime:
        assert got.headers["content-type"] == f'{mime}; name="{name}"'
    assert header_name(got) == name
    (doc,) = documents(api)
    assert doc.size == len(content) and doc.name == name


def test_text_file_headers_exactly_as_redcap(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    assert upload(api, "1", "scan", b"test upload\n", "test_upload.txt").status_code == 200
    got = export(api, "1", "scan")
    assert_download_headers(got, b"test upload\n")
    assert got.headers["content-type"] == 'text/plain; name="test_upload.txt";charset=UTF-8'


def test_mime_is_sniffed_not_taken_from_the_client(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    response = api.call(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("photo.pdf", png(), "application/pdf")},
    )
    assert response.status_code == 200
    assert export(api, "1", "scan").headers["content-type"] == 'image/png; name="photo.pdf"'


def test_import_creates_record_and_sets_form_status(server):
    api = classic(server)
    assert upload(api, "new-7", "scan", b"abc", "a.txt").status_code == 200
    (row,) = api.json(content="record", **{"records[0]": "new-7"})
    assert row["scan"] == "a.txt"
    assert row["visit_complete"] == "0"


def test_form_status_is_kept_when_set(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1", "weight": "70", "visit_complete": "2"}])
    assert upload(api, "1", "scan", b"abc", "a.txt").status_code == 200
    (row,) = api.json(content="record")
    assert row["visit_complete"] == "2" and row["weight"] == "70"


def test_export_records_shows_name_and_blank_after_delete(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1", "first_name": "A"}])
    upload(api, "1", "scan", PDF, "scan-1.pdf")
    upload(api, "1", "signature", png(), "signature.png")
    (row,) = api.json(content="record")
    assert (row["scan"], row["signature"]) == ("scan-1.pdf", "signature.png")
    csv_text = api.ok(content="record", format="csv").text
    assert "scan-1.pdf" in csv_text
    keys_before = store_keys(api)
    response = delete(api, "1", "scan")
    assert response.status_code == 200 and response.content == b""
    (row,) = api.json(content="record")
    assert row["scan"] == "" and row["signature"] == "signature.png"
    assert len(store_keys(api)) == len(keys_before) - 1
    assert [d.name for d in documents(api)] == ["signature.png"]
    gone = export(api, "1", "scan", returnFormat="json")
    assert gone.status_code == 400
    assert gone.json() == {"error": "There is no file to download for this record"}
    again = delete(api, "1", "scan", returnFormat="json")
    assert again.status_code == 400
    assert again.json() == {"error": "There is no file to delete for this record"}


def test_replacing_a_file_deletes_the_old_bytes(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    before = store_keys(api)
    upload(api, "1", "scan", b"first", "one.txt")
    first = store_keys(api) - before
    upload(api, "1", "scan", b"second", "two.txt")
    second = store_keys(api) - before
    assert len(first) == 1 and len(second) == 1 and first != second
    assert [d.name for d in documents(api)] == ["two.txt"]
    assert export(api, "1", "scan").content == b"second"


def test_signature_field_returns_png(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    image = png(40, 10)
    assert upload(api, "1", "signature", image, "signature.png").status_code == 200
    got = export(api, "1", "signature")
    assert_download_headers(got, image)
    assert got.headers["content-type"] == 'image/png; name="signature.png"'


def test_curl_upload_and_download(server, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(70_000))
    subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-F",
            f"token={api.token}",
            "-F",
            "content=file",
            "-F",
            "action=import",
            "-F",
            "record=1",
            "-F",
            "field=scan",
            "-F",
            f"file=@{source}",
            api.url,
        ],
        check=True,
    )
    target = tmp_path / "download.bin"
    data = f"token={api.token}&content=file&action=export&record=1&field=scan"
    subprocess.run(
        ["curl", "-sS", "-f", "-d", data, "-o", str(target), api.url], check=True, timeout=60
    )
    assert target.read_bytes() == source.read_bytes()
    (row,) = api.json(content="record")
    assert row["scan"] == "upload.bin"


# -- repeating data and events ------------------------------------------------------------


def test_repeating_instrument_instances(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    for instance in ("1", "2", "3"):
        response = upload(
            api, "1", "ae_photo", f"ae {instance}".encode(), f"ae{instance}.txt",
            repeat_instance=instance,
        )  # fmt: skip
        assert response.status_code == 200, response.text
    assert export(api, "1", "ae_photo").content == b"ae 1"  # default instance 1
    for instance in ("1", "2", "3"):
        assert export(api, "1", "ae_photo", repeat_instance=instance).content == (
            f"ae {instance}".encode()
        )
    rows = api.json(content="record", **{"fields[0]": "record_id", "fields[1]": "ae_photo"})
    assert [(r["redcap_repeat_instance"], r["ae_photo"]) for r in rows if r["ae_photo"]] == [
        (1, "ae1.txt"),
        (2, "ae2.txt"),
        (3, "ae3.txt"),
    ]
    assert delete(api, "1", "ae_photo", repeat_instance="2").status_code == 200
    missing = export(api, "1", "ae_photo", repeat_instance="2", returnFormat="json")
    assert missing.json() == {"error": "There is no file to download for this record"}
    assert export(api, "1", "ae_photo", repeat_instance="3").content == b"ae 3"
    bad = export(api, "1", "ae_photo", repeat_instance="x", returnFormat="json")
    assert bad.status_code == 400


def test_repeat_instance_is_ignored_where_nothing_repeats(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    assert upload(api, "1", "scan", b"one", "a.txt", repeat_instance="5").status_code == 200
    assert export(api, "1", "scan").content == b"one"
    assert export(api, "1", "scan", repeat_instance="9").content == b"one"
    (row,) = api.json(content="record")
    assert row["scan"] == "a.txt" and row["redcap_repeat_instance"] == ""


def test_longitudinal_events_and_repeating_event(server):
    api = longitudinal(server)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    assert upload(api, "1", "scan", b"base", "b.txt", event="baseline_arm_1").status_code == 200
    for instance in ("1", "2"):
        response = upload(
            api, "1", "scan", f"v2-{instance}".encode(), f"v{instance}.txt",
            event="visit_2_arm_1", repeat_instance=instance,
        )  # fmt: skip
        assert response.status_code == 200, response.text
    assert export(api, "1", "scan", event="baseline_arm_1").content == b"base"
    assert export(api, "1", "scan", event="visit_2_arm_1").content == b"v2-1"
    assert export(api, "1", "scan", event="visit_2_arm_1", repeat_instance="2").content == (b"v2-2")
    rows = api.json(content="record", **{"fields[0]": "record_id", "fields[1]": "scan"})
    assert [(r["redcap_event_name"], r["redcap_repeat_instance"], r["scan"]) for r in rows] == [
        ("baseline_arm_1", "", "b.txt"),
        ("visit_2_arm_1", 1, "v1.txt"),
        ("visit_2_arm_1", 2, "v2.txt"),
    ]
    # Events are required, and must exist.
    for params in ({}, {"event": "nope_arm_9"}):
        response = export(api, "1", "scan", returnFormat="json", **params)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid event"}
        response = upload(api, "1", "scan", b"x", "x.txt", returnFormat="json", **params)
        assert response.json() == {"error": "invalid event"}
    # A form not designated for the event.
    response = upload(api, "1", "id_doc", b"x", "x.txt", event="visit_2_arm_1", returnFormat="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "The field 'id_doc' is on the instrument 'demographics', which is not "
        "designated for the event 'visit_2_arm_1'"
    }
    assert delete(api, "1", "scan", event="visit_2_arm_1", repeat_instance="2").status_code == 200
    assert export(api, "1", "scan", event="visit_2_arm_1", repeat_instance="2").status_code == 400
    assert export(api, "1", "scan", event="visit_2_arm_1").content == b"v2-1"


def test_classic_project_ignores_event(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    assert upload(api, "1", "scan", b"x", "x.txt", event="whatever").status_code == 200
    assert export(api, "1", "scan", event="anything").content == b"x"


# -- errors, in REDCap's order -----------------------------------------------------------


def test_errors_in_order(server):
    api = longitudinal(server)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])

    def error(response: requests.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]

    j = {"returnFormat": "json"}
    # 1. event before record and field
    assert error(export(api, "nope", "nofield", **j)) == (400, "invalid event")
    # 2. record before field
    assert error(export(api, "nope", "nofield", event="baseline_arm_1", **j)) == (
        400,
        'The record "nope" does not exist',
    )
    assert error(delete(api, "nope", "nofield", event="baseline_arm_1", **j)) == (
        400,
        'The record "nope" does not exist',
    )
    # 3. field: missing, or not a file field
    for name in ("nofield", "weight", ""):
        assert error(export(api, "1", name, event="baseline_arm_1", **j)) == (
            400,
            f"The field '{name}' does not exist or is not a 'file' field",
        )
        assert error(upload(api, "1", name, b"x", event="baseline_arm_1", **j))[1] == (
            f"The field '{name}' does not exist or is not a 'file' field"
        )
        assert error(delete(api, "1", name, event="baseline_arm_1", **j))[0] == 400
    # 4. no file
    assert error(export(api, "1", "scan", event="baseline_arm_1", **j)) == (
        400,
        "There is no file to download for this record",
    )
    assert error(delete(api, "1", "scan", event="baseline_arm_1", **j)) == (
        400,
        "There is no file to delete for this record",
    )
    # Import without a file part.
    response = api.call(
        content="file", action="import", record="1", field="scan", event="baseline_arm_1", **j
    )
    assert response.status_code == 400 and "file" in response.json()["error"]
    # Bad action, and the other error formats.
    assert error(api.call(content="file", action="nope", **j)) == (
        400,
        'The value of the parameter "action" is not valid',
    )
    xml = export(api, "1", "scan", event="baseline_arm_1")
    assert xml.status_code == 400
    assert xml.text == (
        '<?xml version="1.0" encoding="UTF-8" ?><hash><error>There is no file to download for '
        "this record</error></hash>"
    )
    csv = export(api, "1", "scan", event="baseline_arm_1", returnFormat="csv")
    assert csv.text == "ERROR: There is no file to download for this record"


def test_token_and_api_rights(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    upload(api, "1", "scan", b"x", "x.txt")
    bad = requests.post(
        api.url,
        data={"token": "0" * 32, "content": "file", "action": "export", "record": "1"},
        timeout=30,
    )
    assert bad.status_code == 403
    no_export = user_api(api, "noexport", api_export=0, data_export=1)
    response = export(no_export, "1", "scan", returnFormat="json")
    assert (response.status_code, response.json()) == (
        403,
        {"error": "You do not have API Export privileges"},
    )
    no_import = user_api(api, "noimport", api_import=0, data_export=1)
    for response in (
        upload(no_import, "1", "scan", b"y", returnFormat="json"),
        delete(no_import, "1", "scan", returnFormat="json"),
    ):
        assert (response.status_code, response.json()) == (
            403,
            {"error": "You do not have API Import/Update privileges"},
        )
    assert export(no_import, "1", "scan").content == b"x"
    no_create = user_api(api, "nocreate", record_create=0, data_export=1)
    response = upload(no_create, "2", "scan", b"y", returnFormat="json")
    assert response.status_code == 403
    assert upload(no_create, "1", "scan", b"z", "z.txt").status_code == 200


NO_ACCESS_MESSAGE = (
    'The API request cannot complete because currently you have "No Access" data export '
    "rights. Higher level data export rights are required for this operation."
)


@pytest.mark.parametrize(
    ("level", "identifier", "allowed"),
    [
        (1, False, True),  # Full Data Set, either
        (1, True, True),
        (2, False, True),  # De-Identified, not tagged
        (2, True, False),  # De-Identified, tagged
        (3, False, True),  # Remove All Identifier Fields, not tagged
        (3, True, False),  # Remove All Identifier Fields, tagged
        (0, False, False),  # No Access, either
        (0, True, False),
    ],
)
def test_export_rights_table(server, level, identifier, allowed):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    fld = "id_doc" if identifier else "scan"
    assert upload(api, "1", fld, b"secret", "s.txt").status_code == 200
    form = "demographics" if identifier else "visit"
    others = {"demographics": 1, "visit": 1, "adverse_events": 1}
    others[form] = level
    user = user_api(api, f"u{level}{int(identifier)}", forms_export=others)
    response = export(user, "1", fld, returnFormat="json")
    if allowed:
        assert response.status_code == 200 and response.content == b"secret"
        return
    assert response.status_code == 403
    if level == 0:
        assert response.json() == {"error": NO_ACCESS_MESSAGE}
    else:
        assert "identifier" in response.json()["error"]


def test_no_access_on_every_instrument(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    upload(api, "1", "scan", b"x", "x.txt")
    user = user_api(api, "blind", data_export=0)
    response = export(user, "1", "scan", returnFormat="json")
    assert (response.status_code, response.json()) == (403, {"error": NO_ACCESS_MESSAGE})


def test_data_access_groups(server):
    api = classic(server)
    api.import_json(
        "dag",
        [
            {"data_access_group_name": "Site A", "unique_group_name": ""},
            {"data_access_group_name": "Site B", "unique_group_name": ""},
        ],
    )
    api.import_json(
        "record",
        [
            {"record_id": "a1", "redcap_data_access_group": "site_a"},
            {"record_id": "b1", "redcap_data_access_group": "site_b"},
        ],
    )
    upload(api, "a1", "scan", b"A", "a.txt")
    upload(api, "b1", "scan", b"B", "b.txt")
    site_a = user_api(api, "site_a_user", data_export=1, data_access_group="site_a")
    assert export(site_a, "a1", "scan").content == b"A"
    j = {"returnFormat": "json"}
    for response in (export(site_a, "b1", "scan", **j), delete(site_a, "b1", "scan", **j)):
        assert (response.status_code, response.json()) == (
            400,
            {"error": 'The record "b1" does not exist'},
        )
    response = upload(site_a, "b1", "scan", b"evil", "e.txt", **j)
    assert response.status_code == 400
    assert export(api, "b1", "scan").content == b"B"
    # A new record made by a DAG user lands in their DAG.
    assert upload(site_a, "a2", "scan", b"A2", "a2.txt").status_code == 200
    rows = api.json(content="record", exportDataAccessGroups="true")
    assert {r["record_id"]: r["redcap_data_access_group"] for r in rows} == {
        "a1": "site_a",
        "a2": "site_a",
        "b1": "site_b",
    }
    assert delete(site_a, "a2", "scan").status_code == 200


# -- hostile file names -------------------------------------------------------------------

HOSTILE = [
    'quote"inside.txt',
    "semi;colon=eq.txt",
    "line\r\nSet-Cookie: a=b.txt",
    "résumé 日本.txt",
    "../../.bashrc",
    "/etc/passwd",
    "..\\..\\win.ini",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_never_break_headers(server, name, tmp_path):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    assert upload(api, "1", "scan", b"payload", name).status_code == 200
    got = export(api, "1", "scan")
    assert_download_headers(got, b"payload")
    assert "set-cookie" not in got.headers
    sent = header_name(got)
    assert sent and "/" not in sent and "\\" not in sent and ".." not in sent
    assert not sent.startswith(".") and sent.isascii() and sent.isprintable()
    assert got.headers["content-type"].count("name=") == 1
    # curl sees the same single header.
    if shutil.which("curl"):
        data = f"token={api.token}&content=file&action=export&record=1&field=scan"
        dump = subprocess.run(
            ["curl", "-sS", "-D", "-", "-o", os.devnull, "-d", data, api.url],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        lines = [line for line in dump.split(b"\r\n") if line]
        assert lines[0].startswith(b"HTTP/1.1 200")
        named = [line for line in lines if b"name=" in line.lower()]
        assert len(named) == 1 and named[0].lower().startswith(b"content-type:")
        assert all(b":" in line for line in lines[1:])
        assert not any(line.lower().startswith(b"set-cookie") for line in lines)


def test_redcaplite_saves_under_a_safe_name(server, tmp_path):
    from redcaplite import RedcapClient

    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    upload(api, "1", "scan", b"lite", "../../escape.txt")
    target = tmp_path / "downloads"
    target.mkdir()
    client = RedcapClient(api.url, api.token)
    client.get_file(record="1", field="scan", file_dictionary=str(target))
    saved = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert saved == [target / "escape.txt"]
    assert saved[0].read_bytes() == b"lite"


def test_redcaplite_upload_and_delete(server, tmp_path):
    from redcaplite import RedcapClient

    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    source = tmp_path / "lite.txt"
    source.write_bytes(b"from redcaplite\n")
    client = RedcapClient(api.url, api.token)
    client.import_file(file_path=str(source), record="1", field="scan")
    assert export(api, "1", "scan").content == b"from redcaplite\n"
    (row,) = api.json(content="record")
    assert row["scan"] == "lite.txt"


def test_store_failure_leaves_nothing_behind(server, monkeypatch):
    """A failing database write drops the just-stored bytes; the old file stays intact."""
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    upload(api, "1", "scan", b"old", "old.txt")
    keys = store_keys(api)
    from localcap.api.methods import files as files_method

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(files_method, "_write_field", boom)
    response = upload(api, "1", "scan", b"new", "new.txt", returnFormat="json")
    assert response.status_code == 500
    assert store_keys(api) == keys
    assert export(api, "1", "scan").content == b"old"
    assert [d.name for d in documents(api)] == ["old.txt"]


def test_export_of_bytes_missing_from_the_store_is_an_api_error(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1"}])
    upload(api, "1", "scan", b"vanishing", "v.txt")
    (doc,) = documents(api)
    LocalFileStore(Path(api.server.data_dir) / "files").delete(doc.store_key)
    response = export(api, "1", "scan", returnFormat="json")
    assert response.status_code == 500
    assert "localcap files verify" in response.json()["error"]


# -- localcap files verify ----------------------------------------------------------------


def test_cli_files_verify(tmp_path):
    """Clean store: exit 0. A changed file and a lost file: both listed, exit 1."""
    from click.testing import CliRunner

    from builders import create_project
    from liveserver import start_server
    from localcap.cli import main

    live = start_server(tmp_path, None, "sqlite")
    try:
        api = create_project(live, "verify")
        api.import_json("metadata", DICTIONARY)
        for record in ("1", "2", "3"):
            assert upload(api, record, "scan", record.encode() * 100, "f.txt").status_code == 200
    finally:
        live.stop()
    runner = CliRunner()
    args = ["files", "verify", "--data-dir", str(tmp_path)]
    ok = runner.invoke(main, args)
    assert ok.exit_code == 0, ok.output
    assert "3 checked: 3 ok, 0 missing, 0 corrupt" in ok.output
    store = LocalFileStore(tmp_path / "files")
    with live.engine.connect() as conn:
        keys = [r.store_key for r in conn.execute(select(t.documents).order_by("doc_id"))]
    store.delete(keys[0])
    (damaged,) = [p for p in (tmp_path / "files").rglob(keys[1])]
    damaged.write_bytes(b"tampered")
    bad = runner.invoke(main, args)
    assert bad.exit_code == 1
    assert f"missing\t{keys[0]}" in bad.output
    assert f"corrupt\t{keys[1]}" in bad.output
    assert "3 checked: 1 ok, 1 missing, 1 corrupt" in bad.output
