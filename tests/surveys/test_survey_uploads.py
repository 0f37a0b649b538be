"""File-upload and signature fields on the survey page (issue 20 item 8): saved through the
file store and documents as Import File saves them, exported back by Export File."""

from __future__ import annotations

from survey_helpers import csrf_of, enable_survey, hidden_of, open_form, record

from builders import create_project, field

UPLOADS = [
    field("record_id", "consent", label="Record ID"),
    field("name", "consent", label="Name"),
    field("scan", "consent", "file", "Your scan"),
    field(
        "sig",
        "consent",
        "file",
        "Signature",
        text_validation_type_or_show_slider_number="signature",
    ),
    field("staff_file", "consent", "file", "Staff file", field_annotation="@HIDDEN-SURVEY"),
]


def upload(session, link, page, files, **answers):  # noqa: ANN001, ANN201, ANN003
    data = {"csrf": csrf_of(page.text), "was_hidden": hidden_of(page.text, "was_hidden")}
    data.update(answers)
    return session.post(link, data=data, files=files, timeout=30)


def test_files_and_signatures_are_uploaded_and_exported(server):
    api = create_project(server, "Uploads")
    api.import_json("metadata", UPLOADS)
    enable_survey(api, "consent", "--edit-completed", "--save-and-return")
    api.import_json("record", [{"record_id": "1"}])
    link = api.ok(content="surveyLink", record="1", instrument="consent").text
    session, page, _ = open_form(link)
    html = page.text
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file" id="scan" name="scan"' in html and 'accept="image/*"' in html
    assert 'name="staff_file"' not in html
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    done = upload(
        session,
        link,
        page,
        {
            "scan": ("scan.txt", b"scan bytes", "text/plain"),
            "sig": ("signature.png", png, "image/png"),
            "staff_file": ("evil.txt", b"forged", "text/plain"),
        },
        name="Ada",
    )
    assert done.status_code == 200 and "Thank you" in done.text
    assert record(api)["name"] == "Ada"
    scan = api.call(content="file", action="export", record="1", field="scan")
    assert scan.status_code == 200 and scan.content == b"scan bytes"
    assert 'name="scan.txt"' in scan.headers["content-type"]
    sig = api.call(content="file", action="export", record="1", field="sig")
    assert sig.content == png and sig.headers["content-type"].startswith("image/png")
    staff = api.call(content="file", action="export", record="1", field="staff_file")
    assert staff.status_code == 400  # nothing was stored for the hidden field
    # the respondent comes back (edit completed) and replaces the scan; the old one is gone
    code = api.ok(content="surveyReturnCode", record="1", instrument="consent").text
    back = session.post(
        link,
        data={
            "csrf": csrf_of(session.get(link, timeout=30).text),
            "return_code": code,
            "begin": "1",
        },
        timeout=30,
    )
    assert 'id="scan-uploaded"' in back.text
    pid = int(api.json(content="project")["project_id"])
    upload(
        session,
        link,
        back,
        {"scan": ("new.txt", b"new scan", "text/plain")},
        name="Ada",
        return_code=code,
    )
    assert api.call(content="file", action="export", record="1", field="scan").content == (
        b"new scan"
    )
    from sqlalchemy import select

    from localcap.db.schema import documents

    with server.engine.connect() as conn:
        names = conn.execute(select(documents.c.name).where(documents.c.project_id == pid))
        assert sorted(n for (n,) in names) == ["new.txt", "signature.png"]  # the old one went


def test_a_required_file_must_be_uploaded(server):
    api = create_project(server, "Required upload")
    api.import_json(
        "metadata",
        [
            field("record_id", "consent", label="Record ID"),
            field("scan", "consent", "file", "Scan", required_field="y"),
        ],
    )
    enable_survey(api, "consent")
    api.import_json("record", [{"record_id": "1"}])
    link = api.ok(content="surveyLink", record="1", instrument="consent").text
    session, page, _ = open_form(link)
    assert "* must provide value" in page.text
    refused = upload(session, link, page, {})
    assert refused.status_code == 400 and "This field is required." in refused.text
    assert record(api)["consent_complete"] != "2"
    done = upload(session, link, refused, {"scan": ("a.txt", b"a", "text/plain")})
    assert done.status_code == 200 and record(api)["consent_complete"] == "2"


def _stored_keys(server) -> set[str]:  # noqa: ANN001
    from localcap.files.local import LocalFileStore

    return set(LocalFileStore(server.data_dir / "files").iter_keys())


def test_upload_bytes_are_stored_before_the_write_lock_and_dropped_unless_saved(server):
    """A slow upload must not hold the project's (on SQLite: the database's) write lock: its
    bytes go to the store first, like Import File's; a save that does not happen leaves none."""
    import threading
    import time

    from localcap.db.transactions import write_transaction

    api = create_project(server, "Uploads under the lock")
    api.import_json("metadata", UPLOADS)
    enable_survey(api, "consent")
    api.import_json("record", [{"record_id": "1"}])
    pid = int(api.json(content="project")["project_id"])
    link = api.ok(content="surveyLink", record="1", instrument="consent").text
    session, page, _ = open_form(link)
    before = _stored_keys(server)
    answered: list = []
    with write_transaction(server.engine, pid):  # another writer holds the project's lock
        post = threading.Thread(
            target=lambda: answered.append(
                upload(session, link, page, {"scan": ("s.txt", b"scan", "text/plain")}, name="A")
            )
        )
        post.start()
        deadline = time.monotonic() + 10
        while _stored_keys(server) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        stored_while_locked = _stored_keys(server) - before
        assert not answered  # the save itself waits for the lock
    post.join(timeout=30)
    assert len(stored_while_locked) == 1
    assert answered[0].status_code == 200 and "Thank you" in answered[0].text
    assert api.call(content="file", action="export", record="1", field="scan").content == b"scan"
    # a post the save refuses (the page comes back with the field it revealed): no bytes kept
    after_save = _stored_keys(server)
    api.import_json("record", [{"record_id": "2"}])
    link = api.ok(content="surveyLink", record="2", instrument="consent").text
    session, page, _ = open_form(link)
    data = {"csrf": csrf_of(page.text), "was_hidden": "name"}
    refused = session.post(
        link, data=data, files={"scan": ("s.txt", b"dropped", "text/plain")}, timeout=30
    )
    assert refused.status_code == 200 and "bring up more questions" in refused.text
    assert _stored_keys(server) == after_save
