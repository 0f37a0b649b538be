"""Edge cases: an identifier record ID, XML-hostile values, and sorting with blanks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from report_helpers import Api, csv_table, xml_items

from builders import create_project
from builders import field as dd
from localcap.db.tokens import create_project_token


def test_edge_cases(server):
    api = create_project(server, "Edges")
    api.import_json(
        "metadata",
        [
            dd("pid", "main", label="Participant", identifier="y"),
            dd("note", "main", "notes"),
            dd("rank", "main", text_validation_type_or_show_slider_number="integer"),
        ],
    )
    hostile = "a ]]> b <c> & d\te"
    api.import_json(
        "record",
        [
            {"pid": "A-10", "note": hostile, "rank": "3"},
            {"pid": "A-2", "note": "x", "rank": ""},
            {"pid": "A-1", "note": "y", "rank": "12"},
        ],
    )
    response = api.call(
        content="report",
        action="import",
        format="json",
        returnContent="ids",
        data=json.dumps(
            [
                {"title": "Notes", "fields": ["pid", "note", "rank"]},
                {"title": "By rank", "fields": ["pid", "rank"], "order_by": ["rank"]},
                {"title": "By rank desc", "fields": ["pid", "rank"],
                 "order_by": [{"field": "rank", "direction": "DESC"}]},
            ]
        ),
    )  # fmt: skip
    notes, by_rank, by_rank_desc = response.json()
    # Natural record order.
    rows = api.json(content="report", report_id=notes)
    assert [r["pid"] for r in rows] == ["A-1", "A-2", "A-10"]
    # XML stays well-formed whatever the value holds; CDATA split around "]]>".
    text = api.ok(content="report", report_id=notes).text
    ET.fromstring(text.encode())
    assert xml_items(text)[2]["note"] == hostile
    # A tab forces CSV quotes.
    assert csv_table(api.ok(content="report", report_id=notes, format="csv").text)[3] == [
        "A-10",
        hostile,
        "3",
    ]
    assert '"a ]]> b <c> & d\te"' in api.ok(content="report", report_id=notes, format="csv").text
    # Integers sort numerically (3 before 12); blanks first ascending, last descending.
    ranked = api.json(content="report", report_id=by_rank)
    assert [(r["pid"], r["rank"]) for r in ranked] == [("A-2", ""), ("A-10", "3"), ("A-1", "12")]
    ranked = api.json(content="report", report_id=by_rank_desc)
    assert [(r["pid"], r["rank"]) for r in ranked] == [("A-1", "12"), ("A-10", "3"), ("A-2", "")]
    # An identifier-tagged record ID is never removed; De-Identified drops the notes field.
    pid = api.json(content="project")["project_id"]
    api.import_json("user", [{"username": "edge_deid", "api_export": 1, "data_export": 2}])
    with server.engine.begin() as conn:
        token = create_project_token(conn, pid, "edge_deid")
    rows = Api(server, token).json(content="report", report_id=notes)
    assert rows == [
        {"pid": "A-1", "rank": "12"},
        {"pid": "A-2", "rank": ""},
        {"pid": "A-10", "rank": "3"},
    ]


def test_a_filter_the_design_no_longer_fits_is_a_400(server):
    """A report's stored logic naming a field deleted since: the export refuses it with the
    logic's error (a 400 in the requested format), not a server error."""
    api = create_project(server, "Stale filter")
    api.import_json("metadata", [dd("pid", "main"), dd("rank", "main")])
    api.import_json("record", [{"pid": "1", "rank": "3"}])
    response = api.call(
        content="report",
        action="import",
        format="json",
        returnContent="ids",
        data=json.dumps([{"title": "Ranked", "fields": ["pid"], "filter_logic": "[rank] > 1"}]),
    )
    (report_id,) = response.json()
    api.import_json("metadata", [dd("pid", "main")])  # "rank" is gone
    response = api.call(content="report", report_id=report_id, format="json")
    assert response.status_code == 400, response.text
    assert "rank" in response.json()["error"]
