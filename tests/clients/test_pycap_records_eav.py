"""PyCap's EAV export (``record_type="eav"``) against a project built from PyCap's own test XML.

PyCap's integration suite (``test_export_records_df_eav``) expects 30 EAV rows, recorded in
2022 on a server where the four calc values were missing; the same test once expected 34.
localcap computes a project XML's calc fields once its records are in, as REDCapR's
recordings of real REDCap show, so it gives 34: an accepted conflict (docs/CLIENTS.md).
"""

from __future__ import annotations

from redcap import Project

from projectxml.projectxml_helpers import create_from_fixture


def test_pycap_eav_export_of_its_simple_project(server):
    api = create_from_fixture(server, "pycap_test_simple_project.xml")
    project = Project(server.url, api.token)
    frame = project.export_records(format_type="df", record_type="eav")
    assert len(frame) == 34
    assert list(frame.columns) == ["record", "field_name", "value"]
    assert set(frame["field_name"]) >= {"record_id", "first_name", "demographics_complete"}
    # the XML's calc values were not imported but computed: round(100*10000/130^2, 1)
    record_1 = frame[frame["record"] == 1]
    assert list(record_1["field_name"])[-2:] == ["age", "bmi"]  # calcs after the rest
    assert str(record_1["value"].iloc[-1]) == "59.2"
    rows = project.export_records(record_type="eav", records=["3"])
    assert [(r["field_name"], r["value"]) for r in rows] == [
        ("record_id", "3"),
        ("first_name", "PyCap"),
        ("last_name", "Incomplete"),
        ("demographics_complete", "0"),
    ]
