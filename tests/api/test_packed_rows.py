"""Packed record rows over HTTP: exports give the same bytes whether a row is stored packed,
as a JSON object, or packed against an older layout of the design (a field added, a field
deleted, a checkbox option added between two writes)."""

from __future__ import annotations

import orjson
from sqlalchemy import select, update

from builders import create_project, field, project_id
from localcap.db import schema as t
from localcap.db.records import read_row

CHOICES = "1, One | 2, Two | 3, Three"
FIRST = [
    field("record_id", "form_a", label="ID"),
    field("name", "form_a", label="Name"),
    field("notes", "form_a", "notes", "Notes"),
    field("cb", "form_a", "checkbox", "CB", select_choices_or_calculations=CHOICES),
    field("color", "form_a", "radio", "Color", select_choices_or_calculations="r, Red | g, Green"),
    field("gone", "form_a", label="Deleted later"),
    field("weight", "form_b", label="W", text_validation_type_or_show_slider_number="number"),
    field("scan", "form_b", "file", "Scan"),
]
#: The design after: a field added, one deleted, a checkbox option added.
SECOND = [
    *[f for f in FIRST if f["field_name"] not in ("gone", "cb", "weight", "scan")],
    field("cb", "form_a", "checkbox", "CB", select_choices_or_calculations=CHOICES + " | 4, Four"),
    field("extra", "form_a", label="Added later"),
    *[f for f in FIRST if f["field_name"] in ("weight", "scan")],
]

EXPORTS = [
    {"content": "record", "format": "csv"},
    {"content": "record", "format": "json"},
    {"content": "record", "format": "xml"},
    {"content": "record", "format": "csv", "rawOrLabel": "label", "rawOrLabelHeaders": "label"},
    {"content": "record", "format": "json", "rawOrLabel": "label", "exportCheckboxLabel": "true"},
    {"content": "record", "format": "csv", "forms": "form_b"},
    {"content": "record", "format": "csv", "fields": "record_id,cb,extra"},
    {"content": "record", "format": "json", "filterLogic": "[weight] > 50"},
    {"content": "record", "format": "csv", "csvDelimiter": ";", "decimalCharacter": "comma"},
    {"content": "record", "format": "json", "type": "eav"},
]


def stored(server, pid):
    with server.engine.begin() as conn:
        return conn.execute(select(t.record_data).where(t.record_data.c.project_id == pid)).all()


def exports(api):
    return [api.ok(**params).content for params in EXPORTS]


def unpack_all(server, pid):
    """Rewrite every stored row as its JSON object (as rows written before packing are)."""
    rows = stored(server, pid)
    with server.engine.begin() as conn:
        for r in rows:
            key = (r.record, r.event_id, r.repeat_instrument, r.instance)
            data = read_row(conn, pid, key, r.data).data
            c = t.record_data.c
            conn.execute(
                update(t.record_data)
                .where(
                    c.project_id == pid,
                    c.record == r.record,
                    c.event_id == r.event_id,
                    c.repeat_instrument == r.repeat_instrument,
                    c.instance == r.instance,
                )
                .values(data=orjson.dumps(data).decode())
            )


def test_exports_are_the_same_for_packed_json_and_older_layout_rows(server):
    api = create_project(server, "Packed rows")
    pid = project_id(api)
    api.import_json("metadata", FIRST)
    api.import_json(
        "record",
        [
            {
                "record_id": "1",
                "name": 'Ann "A" Ünïcödé 😀',
                "notes": "line\r\nbreak, comma; and \\ backslash",
                "cb___1": "1",
                "cb___3": "1",
                "color": "g",
                "gone": "kept?",
                "weight": "72.5",
                "form_a_complete": "2",
            },
            {"record_id": "2", "name": "Bob", "gone": "old", "weight": "40"},
            {"record_id": "3", "name": "has \x1f the separator"},  # kept as a JSON object
        ],
    )
    api.import_json("metadata", SECOND)
    api.import_json(
        "record",
        [
            {"record_id": "2", "cb___4": "1", "extra": "new"},  # repacked: the new layout
            {"record_id": "4", "cb___2": "1", "cb___4": "1", "extra": "x", "weight": "99"},
        ],
    )
    rows = {r.record: r.data for r in stored(server, pid)}
    assert rows["3"].startswith("{")
    assert rows["2"].startswith("{")  # it holds "gone", which the new layout lacks
    packed = {r: d[1 : d.index("\x1f")] for r, d in rows.items() if d.startswith("\x1e")}
    assert set(packed) == {"1", "4"} and packed["1"] != packed["4"]  # two layouts
    before = exports(api)
    first = orjson.loads(before[1])[0]
    assert (first["cb___1"], first["cb___3"], first["cb___4"], first["extra"]) == (
        "1",
        "1",
        "0",
        "",
    )
    assert "gone" not in first and first["notes"] == "line\r\nbreak, comma; and \\ backslash"

    unpack_all(server, pid)
    assert all(r.data.startswith("{") for r in stored(server, pid))
    after = exports(api)
    for params, old, new in zip(EXPORTS, before, after, strict=True):
        assert old == new, params
