"""Mime sniffing: content first, the extension only to settle libmagic's non-answers."""

from __future__ import annotations

import io
import zipfile

import pytest

from localcap.files import mime as mime_module
from localcap.files.mime import HEAD_SIZE, sniff_mime


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"/>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.bin", b"\x00\x01")
    return buffer.getvalue()


TABLE = [
    # (content, client's file name, expected) -- content decides
    (b"test upload\n", "test_upload.txt", "text/plain"),  # PyCap's doctest file
    (b"test upload\n", "", "text/plain"),
    (b"a,b,c\n1,2,3\n", "data.csv", "text/csv"),  # text/plain refined by extension
    (b"a\tb\n1\t2\n", "data.tsv", "text/tab-separated-values"),
    (b"test upload\n", "evil.html", "text/plain"),  # never upgraded to an active type
    (b"test upload\n", "evil.svg", "text/plain"),
    (b"test upload\n", "photo.png", "text/plain"),  # not a PNG whatever the name says
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "x.png", "application/pdf"),
    (b"<html><body><script>alert(1)</script></body></html>", "a.txt", "text/html"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01", "x", "image/jpeg"),
    (b"", "empty.txt", "text/plain"),  # libmagic: application/x-empty
    (b"", "", "application/octet-stream"),
    (b"\x00\x01\x02\x03\xfe\xff" * 10, "blob", "application/octet-stream"),
    (b"\x00\x01\x02\x03\xfe\xff" * 10, "../../doc.docx", None),  # by extension, see below
]


@pytest.mark.parametrize(("content", "filename", "expected"), TABLE)
def test_sniff_table(content: bytes, filename: str, expected: str | None) -> None:
    if expected is None:
        expected = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert sniff_mime(content, filename) == expected


def test_png_and_pdf(png_bytes: bytes, pdf_bytes: bytes) -> None:
    assert sniff_mime(png_bytes, "x.png") == "image/png"
    assert sniff_mime(png_bytes, "renamed.pdf") == "image/png"
    assert sniff_mime(pdf_bytes, "x.pdf") == "application/pdf"
    assert sniff_mime(pdf_bytes, "") == "application/pdf"


def test_office_documents() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert sniff_mime(docx_bytes(), "report.docx") == docx
    # A plain zip named .docx: libmagic says zip, the extension refines within zip formats.
    assert sniff_mime(zip_bytes(), "report.docx") == docx
    assert sniff_mime(zip_bytes(), "archive.zip") == "application/zip"
    assert sniff_mime(zip_bytes(), "page.html") == "application/zip"


def test_only_the_head_is_read() -> None:
    assert sniff_mime(b"test upload\n" * (HEAD_SIZE // 4), "big.txt") == "text/plain"


def test_libmagic_failure_never_fails_the_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def from_buffer(self, head: bytes) -> str:
            raise RuntimeError("libmagic exploded")

    monkeypatch.setattr(mime_module, "_magic", Broken())
    assert sniff_mime(b"whatever", "notes.txt") == "text/plain"
    assert sniff_mime(b"whatever", "page.html") == "application/octet-stream"
    assert sniff_mime(b"whatever", "") == "application/octet-stream"
