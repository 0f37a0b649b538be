"""Hostile or broken project XMLs are refused with a clear 400 and nothing is created; raw
line breaks inside attribute values survive (REDCap writes them raw)."""

from __future__ import annotations

import pytest
from projectxml_helpers import FIXTURES, create_from_odm, post_odm
from sqlalchemy import func, select

from localcap.db import schema as t
from localcap.projectxml.safexml import AttributeBreakEscaper, ProjectXmlError, SafeXmlReader

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ODM><Study><GlobalVariables><StudyName>&lol3;</StudyName></GlobalVariables></Study></ODM>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE ODM [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ODM><Study><GlobalVariables><StudyName>&xxe;</StudyName></GlobalVariables></Study></ODM>"""
DTD_ONLY = '<?xml version="1.0"?>\n<!DOCTYPE ODM SYSTEM "http://example.invalid/odm.dtd">\n<ODM/>'
UNDEFINED_ENTITY = (
    "<ODM><Study><GlobalVariables><StudyName>&xxe;</StudyName></GlobalVariables></Study></ODM>"
)


def _counts(server) -> tuple[int, int, int]:
    with server.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.projects, t.documents, t.records)
        )  # type: ignore[return-value]


def _stored_files(server) -> set[str]:
    root = server.data_dir / "files"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _truncated() -> str:
    text = (FIXTURES / "pycap_doctest_project.xml").read_text()
    return text[: text.index('<SubjectData SubjectKey="3"')]


def _bad_value() -> str:
    """A form status no REDCap can hold (values that merely fail their field's validation or
    choices are kept, as REDCap keeps them: see test_fixtures_import)."""
    text = (FIXTURES / "pycap_doctest_project.xml").read_text()
    return text.replace(
        'ItemOID="form_1_complete" Value="2"', 'ItemOID="form_1_complete" Value="7"'
    )


@pytest.mark.parametrize(
    ("odm", "expected"),
    [
        (BILLION_LAUGHS, "DTDs and entity declarations"),
        (EXTERNAL, "DTDs and entity declarations"),
        (DTD_ONLY, "(line 2)"),
        (UNDEFINED_ENTITY, "undefined entity"),
        ("this is not XML at all", "not well-formed XML"),
        ("<records><item/></records>", "not &lt;ODM&gt;"),
        ("<ODM><Study>", "not well-formed XML"),
        ("truncated", "not well-formed XML"),
        ("bad value", "not valid for this project"),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "dtd",
        "undefined-entity",
        "not-xml",
        "wrong-root",
        "unclosed",
        "truncated-after-a-file",
        "invalid-value-after-a-file",
    ],
)
def test_refused_and_nothing_created(server, odm: str, expected: str):
    if odm == "truncated":
        odm = _truncated()
    elif odm == "bad value":
        odm = _bad_value()
    before, files_before = _counts(server), _stored_files(server)
    response = post_odm(server, odm)
    assert response.status_code == 400, response.text
    assert "<error>" in response.text
    assert expected in response.text
    assert _counts(server) == before
    assert _stored_files(server) == files_before


def test_crlf_in_value_survives(server):
    text = (FIXTURES / "pycap_test_simple_project.xml").read_text()
    raw = 'ItemOID="comments" Value="line one\r\nline two\nline three"/>'
    text = text.replace(
        '<ItemData ItemOID="address" Value="github"/>',
        '<ItemData ItemOID="address" Value="github"/>\n\t\t\t\t\t<ItemData ' + raw,
    )
    text = text.replace(
        '<ItemGroupData ItemGroupOID="demographics.demographics_complete" ItemGroupRepeatKey="1">\n'
        '\t\t\t\t\t<ItemData ItemOID="demographics_complete" Value="2"/>',
        '<ItemGroupData ItemGroupOID="demographics.demographics_complete" ItemGroupRepeatKey="1">\n'
        '\t\t\t\t\t<ItemData ItemOID="demographics_complete" Value="2"/>',
        1,
    )
    api = create_from_odm(server, text.encode("utf-8"))
    records = api.json(content="record")
    assert records[0]["comments"] == "line one\r\nline two\nline three"
    # and it goes out (as character references) and back in unchanged
    xml = api.ok(content="project_xml").text
    assert "line one&#13;&#10;line two&#10;line three" in xml
    again = create_from_odm(server, xml)
    assert again.json(content="record")[0]["comments"] == "line one\r\nline two\nline three"


def test_escaper_across_chunk_boundaries():
    doc = (
        b'<ODM a="x\r\ny"><!-- a "quote\n" --><b c=\'1\n2\'><![CDATA[<"\n">]]></b>'
        b'<?pi "x\n"?><d e="\r\n"/></ODM>'
    )
    for size in range(1, 12):
        starts: list[tuple[str, dict[str, str]]] = []
        texts: list[str] = []
        reader = SafeXmlReader(
            lambda n, a, _l, s=starts: s.append((n, a)), lambda _n: None, texts.append
        )
        for i in range(0, len(doc), size):
            reader.feed(doc[i : i + size])
        reader.close()
        assert starts == [("ODM", {"a": "x\r\ny"}), ("b", {"c": "1\n2"}), ("d", {"e": "\r\n"})]
        assert "".join(texts) == '<"\n">'


def test_error_lines_are_original_lines():
    escaper = AttributeBreakEscaper()
    reader = SafeXmlReader(lambda *_: None, lambda _n: None, lambda _t: None)
    reader.escaper = escaper
    with pytest.raises(ProjectXmlError) as info:
        reader.feed(b'<ODM>\n<a b="1\n2\n3"/>\n<c d=>\n</ODM>')
        reader.close()
    assert info.value.line == 5


def test_clinical_data_errors_name_their_line(server):
    """ItemData is read on a shortcut (no element events); its errors still name its line in
    the file, after attribute values with raw line breaks earlier in the file."""
    text = (FIXTURES / "pycap_doctest_project.xml").read_text()
    text = text.replace(
        '<ItemData ItemOID="record_id" Value="1"/>',
        '<ItemData ItemOID="record_id" Value="one\nrecord\r\n"/>',
        1,
    )
    assert "one\nrecord" in text
    second = text.index('<SubjectData SubjectKey="2"')
    at = text.index("\n", second) + 1
    text = text[:at] + '\t\t<ItemData ItemOID="record_id" Value="2"/>\n' + text[at:]
    line = text[:at].replace("\r\n", "\n").count("\n") + 1
    before = _counts(server)
    response = post_odm(server, text)
    assert response.status_code == 400, response.text
    assert f"ItemData record_id outside FormData (line {line})" in response.text
    assert _counts(server) == before
