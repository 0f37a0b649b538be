"""Hypothesis: whatever the values, written rows read back unchanged.

Readers are independent of our parsers (Python's csv and json, defusedxml) and then our own
parsers too, so writer and parser agree with each other and with the standard readers.
"""

from __future__ import annotations

import csv
import io
import json

from defusedxml.ElementTree import fromstring
from hypothesis import given, settings
from hypothesis import strategies as st

from localcap.formats.csv_writer import write_csv
from localcap.formats.json_writer import write_json
from localcap.formats.parsers import parse_data
from localcap.formats.xml_writer import write_xml_records, xml_safe

names = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
# Any text that can be stored, including quotes, separators, CR/LF, backslashes, "]]>" and
# non-BMP characters (not NUL nor lone surrogates, which imports refuse).
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    | st.sampled_from(list(',;|^"\\\r\n\t ]>')),
    max_size=30,
)


@st.composite
def tables(draw, value_strategy=values):
    header = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    rows = draw(
        st.lists(st.lists(value_strategy, min_size=len(header), max_size=len(header)), max_size=8)
    )
    return header, rows


@settings(max_examples=300)
@given(tables(), st.sampled_from([",", "\t", ";", "|", "^"]))
def test_csv_round_trip(table, delimiter) -> None:
    header, rows = table
    body = b"".join(write_csv(header, rows, delimiter)).decode()
    read = list(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter))
    # A row of one empty value is an empty line, which readers (and REDCap) skip.
    expected = [header] + [r for r in rows if r != [""]]
    assert [r for r in read if r] == [r for r in expected if r != [""]]
    ours = parse_data(body, "csv", "tab" if delimiter == "\t" else delimiter)
    assert ours == [dict(zip(header, r, strict=True)) for r in rows if any(v != "" for v in r)]


@settings(max_examples=300)
@given(tables(values | st.integers(min_value=0, max_value=10**9)))
def test_json_round_trip(table) -> None:
    header, rows = table
    body = b"".join(write_json(header, rows))
    assert body.isascii()
    assert json.loads(body) == [dict(zip(header, r, strict=True)) for r in rows]
    expected = [{k: str(v) for k, v in zip(header, r, strict=True)} for r in rows]
    assert parse_data(body.decode(), "json") == expected


@settings(max_examples=300)
@given(tables())
def test_xml_round_trip(table) -> None:
    header, rows = table
    body = b"".join(write_xml_records(header, rows))
    root = fromstring(body)
    expected = [{k: xml_safe(v) for k, v in zip(header, r, strict=True)} for r in rows]
    got = [{child.tag: child.text or "" for child in item} for item in root.findall("item")]
    # XML parsers normalise a CR (and CRLF) in text to LF; that is XML, not our writer.
    normalise = [
        {k: v.replace("\r\n", "\n").replace("\r", "\n") for k, v in e.items()} for e in expected
    ]
    assert got == normalise
    assert parse_data(body.decode(), "xml") == normalise
