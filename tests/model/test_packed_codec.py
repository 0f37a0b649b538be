"""The packed row codec (model/rows.py): whatever a row holds, what is read back is what was
written; what the packed form cannot hold exactly is refused (the writer then keeps a JSON
object), never changed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from localcap.model.project import Field
from localcap.model.rows import (
    BLANK_CELL,
    UNCHECKED_CELL,
    Layout,
    StoredRow,
    design_columns,
    split_packed,
)

LAYOUT = Layout(["id", "name", ("race", "1"), ("race", "2"), ("race", "98"), "form_complete"])
CODES = ["1", "2", "98"]

values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(list('\x00\x1e\x1f,;"\\\r\n\t {}[]')),
    max_size=20,
)


def roundtrip(data: dict) -> dict | None:
    text = LAYOUT.encode(data)
    if text is None:
        return None
    row = StoredRow.from_packed("1", 0, "", 1, LAYOUT, split_packed(text))
    return row.data


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["id", "name", "form_complete", "orphan"]), values),
    st.none() | st.lists(st.sampled_from([*CODES, "7"]), max_size=4),
)
def test_every_row_reads_back_exactly_or_is_left_to_json(data, checked):
    if checked is not None:
        data["race"] = checked
    back = roundtrip(data)
    in_order = checked is not None and checked == [c for c in CODES if c in checked]
    exact = (
        "orphan" not in data
        and all(v and not {"\x00", "\x1e", "\x1f"} & set(v) for k, v in data.items() if k != "race")
        and (checked is None or (bool(checked) and in_order))
    )
    assert (back is not None) == exact
    if back is not None:
        assert back == data
        assert list(back) == [k for k in ["id", "name", "race", "form_complete"] if k in data]


def test_odd_values_round_trip():
    data = {
        "id": "Ünïcödé 😀 \u2028",
        "name": 'a,b;"c"\r\n\\x {} [] \t',
        "race": ["1", "98"],
        "form_complete": "2",
    }
    assert roundtrip(data) == data


def test_what_the_packed_form_cannot_hold_is_refused():
    assert LAYOUT.encode({"name": "a\x1fb"}) is None  # the separator
    assert LAYOUT.encode({"name": "\x1e"}) is None  # the mark
    assert LAYOUT.encode({"name": "a\x00b"}) is None  # NUL: PostgreSQL's text refuses it
    assert LAYOUT.encode({"name": ""}) is None  # "" would read back as absent
    assert LAYOUT.encode({"new_field": "x"}) is None  # a key the layout lacks
    assert LAYOUT.encode({"race": []}) is None  # [] would read back as absent
    assert LAYOUT.encode({"race": ["2", "1"]}) is None  # not in choice order
    assert LAYOUT.encode({"race": ["1", "1"]}) is None
    assert LAYOUT.encode({"race": ["5"]}) is None  # an option the layout lacks
    assert LAYOUT.encode({"race": "1"}) is None  # a string where a list belongs
    assert LAYOUT.encode({"name": ["1"]}) is None  # a list where a string belongs
    assert LAYOUT.encode({"name": 3}) is None


def test_cells_are_the_layout_columns_then_a_blank_and_an_unchecked_cell():
    text = LAYOUT.encode({"id": "7", "race": ["2"]})
    assert text == f"\x1e{LAYOUT.layout_id}\x1f7\x1f\x1f0\x1f1\x1f0\x1f"
    cells = split_packed(text)
    assert cells[1:7] == ["7", "", "0", "1", "0", ""]
    assert (cells[BLANK_CELL], cells[UNCHECKED_CELL]) == ("", "0")


def test_a_layout_id_names_its_columns_only():
    same = Layout(["id", "name", ("race", "1"), ("race", "2"), ("race", "98"), "form_complete"])
    assert same.layout_id == LAYOUT.layout_id and len(same.layout_id) == 16
    assert Layout(["id", "name"]).layout_id != Layout(["name", "id"]).layout_id
    assert Layout(["a___1"]).layout_id != Layout([("a", "1")]).layout_id
    assert Layout.from_json(LAYOUT.columns_json()).columns == LAYOUT.columns


def test_the_design_layout_expands_checkboxes_and_closes_each_form_with_its_status_and_stamp():
    fields = [
        Field("record_id", "a", "text", "ID"),
        Field("intro", "a", "descriptive", "Hello"),
        Field("cb", "a", "checkbox", "CB", select_choices_or_calculations="1, x | b, y"),
        Field("w", "b", "text", "W"),
    ]
    assert design_columns(["a", "b"], fields, {"b"}) == [
        "record_id",
        ("cb", "1"),
        ("cb", "b"),
        "a_complete",
        "w",
        "b_complete",
        "b_timestamp",
    ]


def test_a_packed_row_decodes_once_and_then_is_an_ordinary_row():
    text = LAYOUT.encode({"id": "1", "name": "Ann"})
    row = StoredRow.from_packed("1", 0, "", 1, LAYOUT, split_packed(text), group_id=3)
    assert row.packed() is not None
    row.data["name"] = "Bob"  # asking for data ends the packed view: it may change
    assert row.packed() is None
    assert row.data == {"id": "1", "name": "Bob"}
    assert row == StoredRow("1", 0, "", 1, {"id": "1", "name": "Bob"}, 3)
    assert row.with_data({}).data == {} and row.data
