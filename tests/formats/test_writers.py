"""Exact bytes of the csv/json/xml writers, the error bodies and the list renderer.

Sources for the expected bytes: docs/REPORTS.md ("Formats") and docs/REDCAP_API.md (REDCap's
recorded responses), the PHP manual for ``fputcsv``/``json_encode``, and real REDCap bodies recorded in
client repositories (cited per test).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from defusedxml.ElementTree import fromstring

from localcap.formats.csv_writer import parse_delimiter, write_csv
from localcap.formats.errors import render_error
from localcap.formats.json_writer import write_json
from localcap.formats.lists import render_records
from localcap.formats.xml_writer import cdata, write_xml_items, write_xml_records


def csv_bytes(header, rows, delimiter=","):
    return b"".join(write_csv(header, rows, delimiter))


# PHP fputcsv: enclose only when the value holds the delimiter, '"', the escape char '\',
# LF, CR, tab or space (php-src ext/standard/file.c php_fputcsv); double inner quotes.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("a b", '"a b"'),
        ("a,b", '"a,b"'),
        ('say "hi"', '"say ""hi"""'),
        ('"', '""""'),
        ("line\nbreak", '"line\nbreak"'),
        ("cr\rhere", '"cr\rhere"'),
        ("crlf\r\nhere", '"crlf\r\nhere"'),
        ("tab\there", '"tab\there"'),
        ("C:\\dir", '"C:\\dir"'),
        ("semi;colon", "semi;colon"),  # ; only matters when it is the delimiter
        ("pipe|x", "pipe|x"),
        ("héllo", "héllo"),
        ("'single'", "'single'"),
        (" lead", '" lead"'),
        ("trail ", '"trail "'),
    ],
)
def test_fputcsv_quoting(value: str, expected: str) -> None:
    assert csv_bytes(["v"], [[value]]) == f"v\n{expected}\n".encode()


def test_csv_lines_end_with_lf_and_ints_are_plain() -> None:
    body = csv_bytes(["record_id", "redcap_repeat_instance", "x"], [["1", 2, "a"], ["2", "", ""]])
    assert body == b"record_id,redcap_repeat_instance,x\n1,2,a\n2,,\n"


def test_csv_empty_rows_gives_header_only() -> None:
    # An empty report still has its header row (reference doc, Export Reports).
    assert csv_bytes(["record_id", "first name"], []) == b'record_id,"first name"\n'


def test_csv_backslash_before_quote_is_doubled_not_php_escaped() -> None:
    # PHP would write "a\"b" (not doubling after the escape char); we double so RFC 4180
    # readers get the value back. Documented deviation.
    assert csv_bytes(["v"], [['a\\"b']]) == b'v\n"a\\""b"\n'


@pytest.mark.parametrize(
    ("delimiter", "line"),
    [
        ("\t", 'a\t"b c"\t"x\ty"\tp,q\n'),
        (";", 'a;"b c";"x\ty";p,q\n'),
        ("|", 'a|"b c"|"x\ty"|p,q\n'),
        ("^", 'a^"b c"^"x\ty"^p,q\n'),
        (",", 'a,"b c","x\ty","p,q"\n'),
    ],
)
def test_csv_other_delimiters(delimiter: str, line: str) -> None:
    body = csv_bytes(["h"], [["a", "b c", "x\ty", "p,q"]], delimiter)
    assert body.decode() == "h\n" + line


def test_csv_value_with_delimiter_of_other_mode() -> None:
    assert csv_bytes(["a", "b"], [["x|y", "1;2"]], "|") == b'a|b\n"x|y"|1;2\n'


def test_csv_single_empty_column() -> None:
    # Python's csv module would write "" for a lone empty field; PHP writes an empty line.
    assert csv_bytes(["a"], [[""], ["x"], [""]]) == b"a\n\nx\n\n"


def test_csv_value_containing_the_internal_terminator() -> None:
    value = "odd \t\\\r\n value"
    body = csv_bytes(["a", "b"], [[value, "1"], ["x", "2"]])
    assert body == b'a,b\n"odd \t\\\r\n value",1\nx,2\n'


def test_csv_streams_in_chunks_of_about_64k() -> None:
    rows = ([str(i), "x" * 100] for i in range(20_000))
    chunks = list(write_csv(["id", "v"], rows))
    assert len(chunks) > 10
    assert all(len(c) < 200_000 for c in chunks)
    text = b"".join(chunks).decode()
    assert text.count("\n") == 20_001
    assert text.endswith("19999," + "x" * 100 + "\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (",", ","),
        ("tab", "\t"),
        ("TAB", "\t"),
        ("\t", "\t"),
        (";", ";"),
        ("|", "|"),
        ("^", "^"),
        ("", ","),  # REDCapR sends csvDelimiter= by default
        (None, ","),
        ("comma", ","),
        (":", ","),
        ("||", ","),
    ],
)
def test_parse_delimiter(value: str | None, expected: str) -> None:
    assert parse_delimiter(value) == expected


# --- JSON ----------------------------------------------------------------------------------


def json_bytes(header, rows):
    return b"".join(write_json(header, rows))


def test_json_compact_in_header_order() -> None:
    body = json_bytes(
        ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "age"],
        [["1", "", "", "30"], ["1", "visits", 2, ""]],
    )
    # PyCap's recorded responses: instance a number when set, "" when not.
    assert body == (
        b'[{"record_id":"1","redcap_repeat_instrument":"","redcap_repeat_instance":"","age":"30"},'
        b'{"record_id":"1","redcap_repeat_instrument":"visits","redcap_repeat_instance":2,"age":""}]'
    )


def test_json_empty_is_brackets() -> None:
    assert json_bytes(["a"], []) == b"[]"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("2021/12/09", r'"2021\/12\/09"'),  # PHP json_encode: "/" -> "\/"
        ("café", r'"caf\u00e9"'),  # PHP default: non-ASCII as \uXXXX, lower-case hex
        ("日本", r'"\u65e5\u672c"'),
        ("😀", r'"\ud83d\ude00"'),  # surrogate pair beyond the BMP
        ('q"b\\s', r'"q\"b\\s"'),
        ("a\nb\r\tc", r'"a\nb\r\tc"'),
        ("\x01", r'"\u0001"'),
        ("<b>&'", '"<b>&\'"'),  # no JSON_HEX_* flags: left as they are
    ],
)
def test_json_php_escaping(value: str, encoded: str) -> None:
    body = json_bytes(["v"], [[value]])
    assert body == b'[{"v":' + encoded.encode() + b"}]"
    assert json.loads(body) == [{"v": value}]


def test_json_streams_in_chunks() -> None:
    rows = ([str(i), "é/" * 50] for i in range(5000))
    chunks = list(write_json(["id", "v"], rows))
    assert len(chunks) > 3
    assert all(c.isascii() for c in chunks)
    data = json.loads(b"".join(chunks))
    assert len(data) == 5000 and data[-1] == {"id": "4999", "v": "é/" * 50}


# --- XML -----------------------------------------------------------------------------------


def test_xml_records_exact() -> None:
    body = b"".join(write_xml_records(["record_id", "name", "empty"], [["1", "Ann <B>", ""]]))
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<records>\n'
        b"<item><record_id><![CDATA[1]]></record_id><name><![CDATA[Ann <B>]]></name>"
        b"<empty></empty></item>\n</records>\n"
    )


def test_xml_empty_records() -> None:
    body = b"".join(write_xml_records(["a"], []))
    assert body == b'<?xml version="1.0" encoding="UTF-8" ?>\n<records>\n</records>\n'


@pytest.mark.parametrize(
    "value", ["]]>", "a]]>b", "]]>]]>", "]]]]>>", "x]]", "]]", "<![CDATA[x]]>", "]>"]
)
def test_cdata_split_keeps_xml_well_formed(value: str) -> None:
    body = b"".join(write_xml_records(["v"], [[value]]))
    assert fromstring(body).find("item/v").text == value


def test_cdata_split_exact() -> None:
    assert cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"


def test_xml_drops_characters_xml_cannot_carry() -> None:
    body = b"".join(write_xml_records(["v"], [["a\x00b\x1fc\td\ne"]]))
    assert fromstring(body).find("item/v").text == "abc\td\ne"


def test_xml_items_generic_shape() -> None:
    body = b"".join(write_xml_items([{"arm_num": 1, "name": "Arm 1"}, {"arm_num": 2, "name": ""}]))
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8" ?>\n<records>\n'
        b"<item><arm_num><![CDATA[1]]></arm_num><name><![CDATA[Arm 1]]></name></item>\n"
        b"<item><arm_num><![CDATA[2]]></arm_num><name></name></item>\n</records>\n"
    )


# --- errors --------------------------------------------------------------------------------

ERROR_CASES = [
    (
        "You do not have permissions to use the API",
        b'{"error":"You do not have permissions to use the API"}',
        b"ERROR: You do not have permissions to use the API",
        b'<?xml version="1.0" encoding="UTF-8" ?><hash><error>You do not have permissions '
        b"to use the API</error></hash>",
    ),
    (
        # bcbi/REDCap.jl src/Import.jl records REDCap's 400 body with "variable\/field name".
        "Each row MUST have a variable/field name",
        b'{"error":"Each row MUST have a variable\\/field name"}',
        b"ERROR: Each row MUST have a variable/field name",
        b'<?xml version="1.0" encoding="UTF-8" ?><hash><error>Each row MUST have a '
        b"variable/field name</error></hash>",
    ),
    (
        'The record "a<b&c" does not exist',
        b'{"error":"The record \\"a<b&c\\" does not exist"}',
        b'ERROR: The record "a<b&c" does not exist',
        b'<?xml version="1.0" encoding="UTF-8" ?><hash><error>The record "a&lt;b&amp;c" '
        b"does not exist</error></hash>",
    ),
]


@pytest.mark.parametrize(("message", "as_json", "as_csv", "as_xml"), ERROR_CASES)
def test_render_error(message: str, as_json: bytes, as_csv: bytes, as_xml: bytes) -> None:
    assert render_error(message, "json") == (as_json, "application/json; charset=utf-8")
    assert render_error(message, "csv") == (as_csv, "text/csv; charset=utf-8")
    assert render_error(message, "xml") == (as_xml, "text/xml; charset=utf-8")
    assert json.loads(as_json) == {"error": message}
    assert fromstring(as_xml).find("error").text == message


def test_render_error_other_format_means_xml() -> None:
    assert render_error("x", "odm")[1] == "text/xml; charset=utf-8"


# --- lists ---------------------------------------------------------------------------------


def test_render_records_three_formats() -> None:
    items = [{"arm_num": 1, "name": "Arm 1"}, {"arm_num": 2, "name": "Drug A/B"}]
    assert render_records(items, "json") == (
        b'[{"arm_num":1,"name":"Arm 1"},{"arm_num":2,"name":"Drug A\\/B"}]',
        "application/json; charset=utf-8",
    )
    assert render_records(items, "csv") == (
        b'arm_num,name\n1,"Arm 1"\n2,"Drug A/B"\n',
        "text/csv; charset=utf-8",
    )
    body, content_type = render_records(items, "xml")
    assert content_type == "text/xml; charset=utf-8"
    assert b"<item><arm_num><![CDATA[1]]></arm_num><name><![CDATA[Arm 1]]></name></item>" in body


def test_render_records_empty_with_header() -> None:
    # A project with no DAGs exports just the header (reference doc).
    header = ["data_access_group_name", "unique_group_name", "data_access_group_id"]
    assert render_records([], "csv", header)[0] == (
        b"data_access_group_name,unique_group_name,data_access_group_id\n"
    )
    assert render_records([], "json", header)[0] == b"[]"


def test_render_records_header_fills_missing_keys() -> None:
    body, _ = render_records([{"b": "2"}], "csv", ["a", "b"])
    assert body == b"a,b\n,2\n"
    assert list(csv.reader(io.StringIO(body.decode()))) == [["a", "b"], ["", "2"]]
