"""The CSV writer's hinted path (``plain_columns``: the report and Export Records path) writes
byte for byte what its general path writes, whatever the values: a "plain" column holding a
value that needs quotes, cells quoted for spaces alone or for other characters, int cells."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from localcap.formats.csv_writer import format_line, needs_quotes, write_csv

values = st.text(
    alphabet=st.sampled_from(list('ab1 ,;|^"\\\r\n\t\x1f') + ["é", "😀"]), max_size=8
) | st.integers(0, 99)


@st.composite
def tables(draw):
    width = draw(st.integers(1, 6))
    rows = draw(st.lists(st.lists(values, min_size=width, max_size=width), max_size=6))
    plain = draw(st.lists(st.integers(0, width - 1), unique=True))
    return [f"c{i}" for i in range(width)], rows, sorted(plain)


@settings(max_examples=400, deadline=None)
@given(tables(), st.sampled_from([",", "\t", ";", "|", "^"]))
def test_hinted_rows_are_written_as_the_general_path_writes_them(table, delimiter):
    header, rows, plain = table
    hinted = b"".join(write_csv(header, rows, delimiter, plain))
    needs = needs_quotes(delimiter)
    expected = "".join(format_line(row, delimiter, needs) for row in [header, *rows])
    assert hinted == expected.encode()


def test_spaces_alone_and_other_characters_are_both_quoted():
    rows = [["1", "a b", "c"], ["2", "a b", 'say "hi"'], ["3", "x\ty", "z"]]
    body = b"".join(write_csv(["id", "t", "u"], rows, ",", [0]))
    assert body == b'id,t,u\n1,"a b",c\n2,"a b","say ""hi"""\n3,"x\ty",z\n'
