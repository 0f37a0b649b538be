"""The streamed readers of a big ``data`` parameter agree with the whole-text parsers.

Whatever the text and wherever it is cut into pieces, :func:`iter_data_rows` gives the rows
:func:`parse_data` gives, or refuses the text with the same message.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcap.formats.parsers import DataParseError, parse_data
from localcap.formats.streaming import DataRows, iter_data_rows

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    | st.sampled_from(list(',;"\\\r\n\t <>&]}{[')),
    max_size=12,
)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def outcome(read):
    try:
        return list(read())
    except DataParseError as exc:
        return str(exc)


def as_dicts(rows: DataRows) -> list[dict]:
    """The rows as dicts (a CSV's rows come as lists of the values of ``rows.columns``)."""
    return [dict(zip(rows.columns, r, strict=True)) if isinstance(r, list) else r for r in rows]


def agree(text: str, fmt: str, size: int) -> None:
    whole = outcome(lambda: parse_data(text, fmt))
    streamed = outcome(lambda: as_dicts(iter_data_rows(pieces(text, size), fmt)))
    assert streamed == whole


@st.composite
def tables(draw):
    header = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    rows = draw(st.lists(st.lists(values, min_size=len(header), max_size=len(header)), max_size=5))
    return header, rows


@settings(max_examples=150, deadline=None)
@given(tables(), st.integers(1, 40), st.sampled_from(["\n", "\r\n", "\r"]))
def test_csv_agrees(table, size, ending) -> None:
    header, rows = table
    out = io.StringIO()
    csv.writer(out, lineterminator=ending).writerows([header, *rows])
    agree(out.getvalue(), "csv", size)


@settings(max_examples=150, deadline=None)
@given(tables(), st.integers(1, 40), st.booleans())
def test_json_agrees(table, size, indent) -> None:
    header, rows = table
    items = [dict(zip(header, row, strict=True)) for row in rows]
    agree(json.dumps(items, indent=1 if indent else None), "json", size)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='[]{},:"0123456789.eE-+ntrufals \n\\ab', max_size=40), st.integers(1, 9))
def test_json_agrees_on_any_text(text, size) -> None:
    """Broken JSON too: the same message, at the same line and column."""
    agree(text, "json", size)


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffrecord_id,a\n1,x\n\n2,y\n",
        'record_id,a\n1,"multi\nline"\n',
        "record_id,a\n1\n",
        " ,a\n1,2\n",
        "",
        'record_id,a\n1,"open\n',
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_csv_cases(text, size) -> None:
    agree(text, "csv", size)


@pytest.mark.parametrize(
    "text",
    [
        '[{"record_id": "1", "n": 1.0, "t": true, "f": false, "z": null}, {"record_id": 2}]',
        '{"record_id": "1"}',
        '[{"a": 1}, 2]',
        '"text"',
        "[]",
        '[{"a": 1},]',
        '[{"a": 1}] x',
        '[{"a": 1}\n{"b": 2}]',
        '[{"a": {"b": 1}}]',
        '[{"a": "\\u0000"}]',
        "[NaN]",
        '\ufeff[{"a": 12345678901234567890}]',
    ],
)
@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_json_cases(text, size) -> None:
    agree(text, "json", size)


@pytest.mark.parametrize(
    "text",
    [
        "<records><item><a>1</a><b><![CDATA[x<y]]></b></item><item><a>2</a></item></records>",
        "<item><a>1</a></item>",
        "\ufeff \n<records><other/><item><a>1</a><a>2</a></item></records>",
        '<!DOCTYPE r [<!ENTITY e "x">]><records><item><a>&e;</a></item></records>',
        "<records><item><a>1</a></item>",
        "<records><item><a><b><c><d>deep</d></c></b></a></item></records>",
        "<records></records>",
    ],
)
@pytest.mark.parametrize("size", [1, 3, 1000])
def test_xml_cases(text, size) -> None:
    agree(text, "xml", size)


@pytest.mark.parametrize(
    "text",
    [
        "record_id,a\n1,x\n2,y\n3,n\x00l\n",  # a NUL in a later row
        "record_id,a\n1,x\n2,\ud800\n",  # a lone surrogate in a later row
        "record_id,a\x00\n1,x\n2,y\n",  # a NUL in the header
        "record_id,a\n1,\x00\n2,y\n",  # in the first row
        "record_id,a\n1,x\n2,\x00\n3,y,z\n",  # a bad value, then a row of the wrong width
        "record_id,a\n1,x\n2,caf\u00e9\n3,y\n",  # not ASCII but fine
        "record_id,a,a\n1,x,y\n2,z,w\n",  # a column named twice: the last one wins
    ],
)
def test_csv_rows_that_cannot_be_stored_are_refused_as_whole(text) -> None:
    """Plain ASCII rows skip the row check; the others are still refused, with the same
    message as the whole-text parser's."""
    for size in (3, 7, 1000):
        agree(text, "csv", size)
