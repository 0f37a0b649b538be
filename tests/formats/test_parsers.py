"""Import data parsing: what clients really send, value conversion, and every parse error."""

from __future__ import annotations

import pytest

from localcap.formats.parsers import DataParseError, parse_data, php_number

# --- JSON ----------------------------------------------------------------------------------


def test_json_list_of_objects() -> None:
    # PyCap / redcaplite: json.dumps of a list of dicts.
    data = '[{"record_id": "1", "age": "30"}, {"record_id": "2", "age": ""}]'
    assert parse_data(data, "json") == [
        {"record_id": "1", "age": "30"},
        {"record_id": "2", "age": ""},
    ]


def test_json_single_object_is_one_row() -> None:
    # REDCap answers {"count": 0} here (PyCap issues #103, #138); we import the row instead.
    assert parse_data('{"record_id": "1"}', "json") == [{"record_id": "1"}]


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("1", "1"),
        ("-3", "-3"),
        ("007.50", None),  # invalid JSON number (leading zero)
        ("1.5", "1.5"),
        ("1.0", "1"),  # pandas writes int columns with blanks as floats
        ("-2.0", "-2"),
        ("0.0", "0"),
        ("1e3", "1000"),
        ("1.25e-7", "1.25E-7"),
        ("1e20", "1.0E+20"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("true", "1"),
        ("false", ""),  # PHP (string)false
        ("null", ""),
        ('"x"', "x"),
    ],
)
def test_json_scalars_become_strings(literal: str, text: str | None) -> None:
    data = '[{"v": ' + literal + "}]"
    if text is None:
        with pytest.raises(DataParseError):
            parse_data(data, "json")
    else:
        assert parse_data(data, "json") == [{"v": text}]


def test_json_nested_values_are_kept_where_the_caller_allows() -> None:
    # Import Users: "forms" rights as an object.
    data = '[{"username": "u", "forms": {"demographics": 1}}]'
    rows = parse_data(data, "json", nested=frozenset({"forms"}))
    assert rows == [{"username": "u", "forms": {"demographics": "1"}}]
    with pytest.raises(DataParseError, match="objects and lists cannot be imported"):
        parse_data(data, "json")


def test_json_bom_is_ignored() -> None:
    assert parse_data('\ufeff[{"a": "b"}]', "json") == [{"a": "b"}]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("[{", "not valid JSON"),
        ("", "not valid JSON"),
        ("record_id,age\n1,2", "not valid JSON"),
        ('[{"a": NaN}]', "NaN is not a JSON value"),
        ('[{"a": Infinity}]', "Infinity is not a JSON value"),
        ('"text"', "must be a list of objects"),
        ("5", "must be a list of objects"),
        ('[{"a": "1"}, 2]', "item 2 is not an object"),
        ('[["a"]]', "item 1 is not an object"),
        ('[{"a": 1e999}]', "out of range"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_json_errors(data: str, fragment: str) -> None:
    with pytest.raises(DataParseError, match=fragment):
        parse_data(data, "json")


def test_json_error_says_where() -> None:
    with pytest.raises(DataParseError, match=r"line 2, column"):
        parse_data('[{"a": "1"},\n{"b": }]', "json")


def test_php_number_direct() -> None:
    assert php_number("-0.0") == "-0"
    assert php_number("0.1") == "0.1"
    assert php_number("1e15") == "1.0E+15"


# --- CSV -----------------------------------------------------------------------------------


def test_csv_basic_crlf_bom_and_multiline() -> None:
    data = '\ufeffrecord_id,notes,age\r\n1,"line one\r\nline two",30\r\n2,"say ""hi""",\r\n'
    assert parse_data(data, "csv") == [
        {"record_id": "1", "notes": "line one\r\nline two", "age": "30"},
        {"record_id": "2", "notes": 'say "hi"', "age": ""},
    ]


def test_csv_header_trimmed_and_blank_lines_skipped() -> None:
    assert parse_data(" record_id , age\n\n1,2\n,\n", "csv") == [{"record_id": "1", "age": "2"}]


@pytest.mark.parametrize(("delimiter", "char"), [("tab", "\t"), (";", ";"), ("|", "|"), ("^", "^")])
def test_csv_delimiters(delimiter: str, char: str) -> None:
    data = f"a{char}b\n1{char}x,y\n"
    assert parse_data(data, "csv", delimiter) == [{"a": "1", "b": "x,y"}]


def test_csv_unknown_delimiter_falls_back_to_comma() -> None:
    assert parse_data("a,b\n1,2\n", "csv", "nonsense") == [{"a": "1", "b": "2"}]


def test_csv_repeated_column_takes_its_last_value() -> None:
    """REDCap keys each row by the header, so the last of a repeated column wins."""
    assert parse_data("a,b,a\n1,2,3\n", "csv") == [{"a": "3", "b": "2"}]


def test_csv_header_only_is_no_rows() -> None:
    assert parse_data("record_id,age\n", "csv") == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("", "no header row"),
        ("\n\n", "no header row"),
        ("a,b\n1\n", "row 2 has 1 values but the header row has 2"),
        ("a,b\n1,2,3\n", "row 2 has 3 values"),
        ("a,,b\n1,2,3\n", "Column 2 of the CSV header row has no name"),
        ('a,b\n1,"unclosed\n', "could not be read"),
        ('a,b\n1,"x"y\n', "could not be read"),
        # NUL is data to the csv module in 3.11+, but no database stores it the same way
        ("a,b\n1,\x00\n", "The value of 'b' in item 1 contains a NUL character"),
    ],
)
def test_csv_errors(data: str, fragment: str) -> None:
    with pytest.raises(DataParseError, match=fragment):
        parse_data(data, "csv")


# --- XML -----------------------------------------------------------------------------------


def test_xml_records_with_cdata_and_plain_text() -> None:
    data = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<records>\n'
        "<item><record_id><![CDATA[1]]></record_id><name>A &amp; B</name><e></e><f/></item>\n"
        "<item><record_id>2</record_id><name><![CDATA[x]]]]><![CDATA[>y]]></name></item>\n"
        "</records>"
    )
    assert parse_data(data, "xml") == [
        {"record_id": "1", "name": "A & B", "e": "", "f": ""},
        {"record_id": "2", "name": "x]]>y"},
    ]


def test_xml_bare_item_root() -> None:
    # PyCap's integration conftest creates projects with exactly this `data`.
    data = """<?xml version="1.0" encoding="UTF-8" ?>
    <item>
    <project_title>PyCap test</project_title>
    <purpose>0</purpose>
    </item>"""
    assert parse_data(data, "xml") == [{"project_title": "PyCap test", "purpose": "0"}]


def test_xml_leading_whitespace_and_bom() -> None:
    assert parse_data("\ufeff  \n<records><item><a>1</a></item></records>", "xml") == [{"a": "1"}]


def test_xml_non_ascii_and_other_encoding_declaration() -> None:
    data = '<?xml version="1.0" encoding="UTF-8"?><records><item><a>Ярослав</a></item></records>'
    assert parse_data(data, "xml") == [{"a": "Ярослав"}]


def test_xml_nested_elements_become_dicts() -> None:
    data = "<records><item><username>u</username><forms><f1>1</f1></forms></item></records>"
    assert parse_data(data, "xml", nested=frozenset({"forms"})) == [
        {"username": "u", "forms": {"f1": "1"}}
    ]


def test_xml_empty_records() -> None:
    assert parse_data("<records></records>", "xml") == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<records><item><a>&lol2;</a></item></records>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<records><item><a>&xxe;</a></item></records>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE records SYSTEM "http://example.invalid/x.dtd">
<records><item><a>1</a></item></records>"""


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (BILLION_LAUGHS, "DTD, entity declarations"),
        (EXTERNAL_ENTITY, "DTD, entity declarations"),
        (EXTERNAL_DTD, "DTD, entity declarations"),
        ("<records><item><a>1</a></item>", "not well-formed"),
        ("", "not well-formed"),
        ("record_id,age\n1,2", "not well-formed"),
        ("<records><item><a>&undefined;</a></item></records>", "not well-formed"),
        ("<records><item><a>1</a><a>2</a></item></records>", "two <a> elements"),
    ],
)
def test_xml_errors(data: str, fragment: str) -> None:
    with pytest.raises(DataParseError, match=fragment):
        parse_data(data, "xml")


def test_unknown_format_is_read_as_xml() -> None:
    assert parse_data("<records><item><a>1</a></item></records>", "odm") == [{"a": "1"}]


def test_data_parse_error_is_value_error() -> None:
    assert issubclass(DataParseError, ValueError)
