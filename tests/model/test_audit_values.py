"""What the audit log keeps of a row an import wrote where there was none.

Such a row is logged with its values as they are, or as the packed text the row store wrote
(no step per value while importing); the details are made when the log is read: in field order, the record ID first, and each value
bounded to MAX_VALUE characters saying how long it was.
"""

from __future__ import annotations

import orjson

from localcap.model.audit import MAX_VALUE, Change, PackedRowValues, field_order, row_writes
from localcap.model.project import Field, Form, Project
from localcap.model.rows import Layout, design_columns

KEY = ("1", 0, "", 1)


def project() -> Project:
    return Project(
        1,
        "P",
        False,
        {},
        fields=[
            Field("record_id", "form_1", "text"),
            Field("notes", "form_1", "notes"),
            Field("color", "form_1", "checkbox", select_choices_or_calculations="1, R|2, G"),
            Field("age", "form_1", "text"),
        ],
        forms=[Form("form_1", "Form 1")],
    )


def logged(data: dict) -> Change:
    """The change logged for a new record's row holding ``data``, stored and read back."""
    p = project()
    (change,) = row_writes(p, [KEY], {}, {KEY: data}, {"1"})
    stored = orjson.loads(orjson.dumps(change.as_json()))
    return Change.from_json(stored, field_order(p))


def test_a_long_value_is_bounded_when_read():
    long = "x" * (MAX_VALUE + 500)
    change = logged({"notes": long, "age": "7"})
    assert dict(change.values)["notes"] == "x" * MAX_VALUE + f"... ({MAX_VALUE + 500} characters)"
    assert dict(change.values)["age"] == "7"


def test_values_are_listed_in_field_order_with_the_record_id_first():
    change = logged({"form_1_complete": "0", "age": "7", "color": ["1", "2"], "notes": "n"})
    assert change.action == "Create record (API)"
    assert [name for name, _ in change.values] == [
        "record_id",
        "notes",
        "color(1)",
        "color(2)",
        "age",
        "form_1_complete",
    ]
    assert change.details.startswith("record_id = '1', notes = 'n', color(1) = checked")


def test_a_row_logged_as_its_packed_text_reads_back_as_its_values():
    """A bulk import logs a new row as the text it stored; read back, the change is the one
    the row's values give."""
    p = project()
    layout = Layout(design_columns([f.form_name for f in p.forms], p.fields))
    data = {"notes": "n\n'x'", "color": ["2"], "age": "7", "form_1_complete": "0"}
    packed = layout.encode(data)
    assert packed is not None
    (change,) = row_writes(p, [KEY], {}, {KEY: data}, {"1"}, packed=(layout, {KEY: packed}))
    assert isinstance(change.values, PackedRowValues)
    stored = orjson.loads(orjson.dumps(change.as_json()))
    assert "\\u001f" not in orjson.dumps(stored).decode()  # (no separator escaped)
    read = Change.from_json(stored, field_order(p), {layout.layout_id: layout})
    assert read == logged(data)
    assert read.details.startswith("record_id = '1', notes = ")


def test_a_row_whose_text_holds_the_logged_separator_is_logged_as_values():
    p = project()
    layout = Layout(design_columns([f.form_name for f in p.forms], p.fields))
    data = {"notes": "a\x7fb", "form_1_complete": "0"}
    packed = layout.encode(data)
    assert packed is not None
    (change,) = row_writes(p, [KEY], {}, {KEY: data}, {"1"}, packed=(layout, {KEY: packed}))
    assert isinstance(change.values, dict)
    assert dict(logged(data).values)["notes"] == "a\x7fb"
