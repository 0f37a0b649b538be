"""safe_filename / content_type_header, checked against how each client parses the header.

The four ``parse_*`` helpers restate, in Python, the parsing rules of the clients as
documented in ``localcap.files.names`` (behaviour, not their code), so that the encoding
decision is tested against every one of them.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcap.files.names import (
    DEFAULT_NAME,
    MAX_LENGTH,
    content_type_header,
    safe_filename,
    safe_mime,
)


def parse_pycap(header: str) -> str:
    """PyCap export_file: split on ';', key=split('=')[0], value=split('=')[1] minus quotes."""
    pieces = [p.strip() for p in header.split(";")]
    pairs = dict((p.split("=")[0], p.split("=")[1].replace('"', "")) for p in pieces if "=" in p)
    return pairs["name"]


def parse_redcaplite(header: str) -> str:
    """redcaplite: like PyCap but ``key, value = item.split('=')`` (fails on a second '=')."""
    pieces = [p.strip() for p in header.split(";")]
    try:
        pairs = {}
        for item in pieces:
            if "=" in item:
                key, value = item.split("=")
                pairs[key] = value.replace('"', "")
        return pairs["name"]
    except Exception:  # noqa: BLE001 - exactly what redcaplite does
        return "download.raw"


def parse_redcapr(headers: dict[str, str]) -> list[str]:
    """REDCapR: regexpr('name=.*') over every header, then drop 'name=' + 1 char and '"'."""
    found = []
    for value in headers.values():
        match = re.search(r"name=.*", value)
        if match:
            found.append(re.sub(r'(name=.)|(")', "", match.group(0)))
    return found


def parse_redcapapi(header: str) -> str:
    """redcapAPI: drop '^[[:print:]]+; name=' (greedy) and '"', then ';charset.+$'."""
    name = re.sub(r'(^[\x20-\x7e]+; name=|")', "", header)
    return re.sub(r"[;]charset.+$", "", name)


NAMES = [
    ("test_upload.txt", "test_upload.txt"),
    ("../../.bashrc", "bashrc"),
    ("/etc/passwd", "passwd"),
    ("C:\\Users\\me\\evil.exe", "evil.exe"),
    ('a"b;c.txt', "a_b_c.txt"),
    ("a=b.txt", "a_b.txt"),
    ("x\r\nSet-Cookie: a=b", "x__Set-Cookie_ a_b"),
    ("nul\x00byte.txt", "nul_byte.txt"),
    ("résumé ünï.pdf", "resume uni.pdf"),
    ("Straße.pdf", "Strasse.pdf"),
    ("日本語.txt", "%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"),
    ("\u202egpj.exe", "_gpj.exe"),  # right-to-left override
    ("ＡＢ／..／x.txt", "x.txt"),  # fullwidth slash is a slash after normalisation
    ("a..b...c.txt", "a.b.c.txt"),
    ("report.pdf:hidden", "report.pdf_hidden"),
    ("CON.txt", "_CON.txt"),
    ("trailing dot. ", "trailing dot"),
    ("", DEFAULT_NAME),
    ("   ", DEFAULT_NAME),
    ("..", DEFAULT_NAME),
    ("/", DEFAULT_NAME),
    ('"', DEFAULT_NAME),
    (None, DEFAULT_NAME),
]


@pytest.mark.parametrize(("raw", "safe"), NAMES)
def test_safe_filename_table(raw: str | None, safe: str) -> None:
    assert safe_filename(raw) == safe


def assert_plain_name(name: str) -> None:
    assert name
    assert name.isascii() and name.isprintable()
    assert not any(c in name for c in '/\\";=:<>|?*')
    assert ".." not in name
    assert not name.startswith((".", " "))
    assert not name.endswith((".", " "))
    assert len(name) <= MAX_LENGTH
    assert PurePosixPath(name).name == name
    assert PureWindowsPath(name).name == name
    assert os.path.join("/downloads", name) == f"/downloads/{name}"


@pytest.mark.parametrize(("raw", "safe"), NAMES)
@pytest.mark.parametrize("mime", ["text/plain", "image/png", "application/pdf"])
def test_every_client_reads_back_the_safe_name(raw: str | None, safe: str, mime: str) -> None:
    header = content_type_header(mime, raw)
    header.encode("latin-1")  # Starlette sends header values as latin-1
    assert header.isascii()
    assert header.count("name=") == 1
    assert "\r" not in header and "\n" not in header
    assert_plain_name(safe)
    assert parse_pycap(header) == safe
    assert parse_redcaplite(header) == safe
    assert parse_redcapapi(header) == safe
    # REDCapR keeps the ";charset=UTF-8" of text types in the name, as it does against real
    # REDCap; what matters is that there is one match and it starts with the safe name.
    redcapr = parse_redcapr({"content-type": header, "content-security-policy": "x"})
    expected = safe + (";charset=UTF-8" if mime.startswith("text/") else "")
    assert redcapr == [expected]


def test_exact_redcap_formats() -> None:
    assert (
        content_type_header("text/plain", "test_upload.txt")
        == 'text/plain; name="test_upload.txt";charset=UTF-8'
    )
    assert content_type_header("image/png", "x.png") == 'image/png; name="x.png"'
    # PyCap's doctest expectation for the same header:
    header = content_type_header("text/plain", "test_upload.txt")
    pieces = [p.strip() for p in header.split(";")]
    assert dict(
        (p.split("=")[0], p.split("=")[1].replace('"', "")) for p in pieces if "=" in p
    ) == {"name": "test_upload.txt", "charset": "UTF-8"}


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("image/PNG", "image/png"),
        ("text/plain; charset=latin-1", "text/plain"),
        ("text/plain\r\nX-Evil: 1", "application/octet-stream"),
        ("", "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
    ],
)
def test_safe_mime(raw: str, safe: str) -> None:
    assert safe_mime(raw) == safe


def test_long_names_keep_extension_and_whole_characters() -> None:
    long_ascii = safe_filename("a" * 500 + ".pdf")
    assert len(long_ascii) == MAX_LENGTH and long_ascii.endswith(".pdf")
    long_cjk = safe_filename("日" * 100 + ".txt")
    assert len(long_cjk) <= MAX_LENGTH and long_cjk.endswith(".txt")
    from urllib.parse import unquote

    assert set(unquote(long_cjk, errors="strict")[:-4]) == {"日"}


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_name_becomes_a_plain_name(raw: str) -> None:
    safe = safe_filename(raw)
    assert_plain_name(safe)
    assert safe_filename(safe) == safe  # idempotent
    header = content_type_header("text/plain", raw)
    header.encode("latin-1")
    assert header.count("name=") == 1
    assert parse_pycap(header) == parse_redcaplite(header) == parse_redcapapi(header) == safe
