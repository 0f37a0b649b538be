"""What every response tells a browser (issue 20 item 10): uploaded files come back as
attachments that cannot run on localcap's origin, API and error answers carry ``nosniff``,
``frame-ancestors 'none'`` and ``no-store``, and the R clients still read the file name."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import requests

from builders import Api, clinical_classic

HTML = b"<html><body><form id=f action=https://evil.example><script>f.submit()</script>"
#: REDCapR's ``redcap_file_download_oneshot`` (it scans every response header) and
#: redcapAPI's ``reconstituteFileFromExport`` (Content-Type only), verbatim, in base R.
R_CLIENTS = r"""
headers <- readLines(file("stdin"))
values <- headers[c(FALSE, TRUE)]
names(values) <- headers[c(TRUE, FALSE)]
regex_matches <- regmatches(values, regexpr("name=.*", values))
redcapr <- gsub(pattern = '(name=.)|(")', replacement = "", x = regex_matches)
redcapapi <- gsub(pattern = "(^[[:print:]]+; name=|\")", replacement = "",
                  x = values[["content-type"]])
redcapapi <- sub("[;]charset.+$", "", redcapapi)
cat(length(redcapr), redcapr, redcapapi, sep = "\n")
"""


@pytest.fixture(scope="module")
def project(server) -> Api:
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": "1", "first_name": "Ann"}])
    response = api.call(
        content="file",
        action="import",
        record="1",
        field="scan",
        files={"file": ("page.html", HTML)},
    )
    assert response.status_code == 200, response.text
    return api


def assert_attachment(response: requests.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == "attachment"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert response.headers["cache-control"] == "no-store"


def test_uploaded_html_is_an_attachment_that_cannot_run(project):
    response = project.call(content="file", action="export", record="1", field="scan")
    assert_attachment(response)
    assert response.content == HTML
    assert response.headers["content-type"] == 'text/html; name="page.html";charset=UTF-8'


def test_file_repository_and_pdf_downloads_are_attachments(project):
    [folder] = project.json(content="fileRepository", action="createFolder", name="docs")
    project.ok(
        content="fileRepository",
        action="import",
        folder_id=str(folder["folder_id"]),
        files={"file": ("x.html", HTML)},
    )
    listing = project.json(content="fileRepository", action="list", folder_id=folder["folder_id"])
    [doc] = [item for item in listing if "doc_id" in item]
    exported = project.call(content="fileRepository", action="export", doc_id=str(doc["doc_id"]))
    assert_attachment(exported)
    assert exported.content == HTML
    pdf = project.call(content="pdf", record="1")
    assert_attachment(pdf)
    assert pdf.headers["content-type"].startswith('application/pdf; name="')


@pytest.mark.parametrize(
    "params",
    [
        {"content": "arm", "format": "json"},  # an answer
        {"content": "nonsense", "format": "json"},  # an error
        {"content": "record", "format": "csv", "records": "\x00"},  # an error in csv
    ],
)
def test_api_answers_and_errors_are_not_framed_sniffed_or_cached(project, params):
    response = project.call(**params)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    bad_token = requests.post(project.url, data={"token": "0" * 32, **params}, timeout=30)
    assert bad_token.status_code == 403
    assert bad_token.headers["x-content-type-options"] == "nosniff"
    assert bad_token.headers["cache-control"] == "no-store"
    for method in ("GET", "PUT"):
        other = requests.request(method, project.url, timeout=30)
        assert other.status_code == 501
        assert other.headers["x-content-type-options"] == "nosniff"


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_r_clients_still_read_the_file_name(project):
    response = project.call(content="file", action="export", record="1", field="scan")
    lines = []
    for name, value in response.headers.items():
        lines += [name.lower(), value]
    result = subprocess.run(
        ["Rscript", "-e", R_CLIENTS],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    count, redcapr, redcapapi = result.stdout.split("\n")[:3]
    # one match across every header: a filename= in Content-Disposition would make two
    assert count == "1", result.stdout
    assert redcapr == "page.html;charset=UTF-8"  # what REDCapR saves against REDCap too
    assert redcapapi == "page.html"
