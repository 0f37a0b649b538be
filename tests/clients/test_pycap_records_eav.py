"""PyCap's EAV export (``record_type="eav"``) against a project built from PyCap's own test XML.

PyCap's integration suite builds the same project on a real REDCap and expects 30 EAV rows:
the XML's 34 stored values less its four calculated-field values, which REDCap does not
import from a project XML.
"""

from __future__ import annotations

from redcap import Project

from projectxml.projectxml_helpers import create_from_fixture


def test_pycap_eav_export_of_its_simple_project(server):
    api = create_from_fixture(server, "pycap_test_simple_project.xml")
    project = Project(server.url, api.token)
    frame = project.export_records(format_type="df", record_type="eav")
    assert len(frame) == 30
    assert list(frame.columns) == ["record", "field_name", "value"]
    assert set(frame["field_name"]) >= {"record_id", "first_name", "demographics_complete"}
    assert not {"age", "bmi"} & set(frame["field_name"])  # calc values were not imported
    rows = project.export_records(record_type="eav", records=["3"])
    assert [(r["field_name"], r["value"]) for r in rows] == [
        ("record_id", "3"),
        ("first_name", "PyCap"),
        ("last_name", "Incomplete"),
        ("demographics_complete", "0"),
    ]
