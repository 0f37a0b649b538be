"""ODM ClinicalData: structure and bytes compared with real REDCap exports.

The expected fragments are copied from the ClinicalData of the real REDCap project XMLs in
tests/data/redcap_projects (PyCap's test data) and REDCapR's ``inst/test-data/projects``.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from defusedxml.ElementTree import fromstring

from liveserver import REDCAP_PROJECTS
from localcap.formats.odm import OdmRecordRow, OdmStudy, study_oid_name, write_odm

FIXTURES = REDCAP_PROJECTS
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "redcap": "https://projectredcap.org"}
R = "{https://projectredcap.org}"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
WHEN = datetime(2025, 5, 2, 12, 6, 30)


def odm(study: OdmStudy, rows: list[OdmRecordRow]) -> str:
    return b"".join(write_odm(study, rows)).decode()


DOCTEST = OdmStudy(
    project_title="doctest project",
    record_id_field="record_id",
    longitudinal=True,
    field_form={
        n: "form_1"
        for n in [
            "record_id",
            "field_1",
            "checkbox_field___1",
            "checkbox_field___2",
            "form_1_complete",
        ]
    },
    group_starts={"record_id": "form_1.record_id", "form_1_timestamp": "form_1.form_1_timestamp"},
    as_of=WHEN,
)


def doctest_rows() -> list[OdmRecordRow]:
    values = {
        "record_id": "2",
        "field_1": "0",
        "checkbox_field___1": "0",
        "checkbox_field___2": "0",
        "form_1_complete": "0",
    }
    return [OdmRecordRow("2", "event_1_arm_1", "", 1, "", values)]


def test_doctest_project_subject_bytes() -> None:
    # pycap_doctest_project.xml, SubjectKey="2", verbatim.
    expected = (
        '\t<SubjectData SubjectKey="2" redcap:RecordIdField="record_id">\n'
        '\t\t<StudyEventData StudyEventOID="Event.event_1_arm_1" StudyEventRepeatKey="1" redcap:UniqueEventName="event_1_arm_1">\n'
        '\t\t\t<FormData FormOID="Form.form_1" FormRepeatKey="1">\n'
        '\t\t\t\t<ItemGroupData ItemGroupOID="form_1.record_id" ItemGroupRepeatKey="1">\n'
        '\t\t\t\t\t<ItemData ItemOID="record_id" Value="2"/>\n'
        '\t\t\t\t\t<ItemData ItemOID="field_1" Value="0"/>\n'
        '\t\t\t\t\t<ItemData ItemOID="checkbox_field___1" Value="0"/>\n'
        '\t\t\t\t\t<ItemData ItemOID="checkbox_field___2" Value="0"/>\n'
        "\t\t\t\t</ItemGroupData>\n"
        '\t\t\t\t<ItemGroupData ItemGroupOID="form_1.form_1_complete" ItemGroupRepeatKey="1">\n'
        '\t\t\t\t\t<ItemData ItemOID="form_1_complete" Value="0"/>\n'
        "\t\t\t\t</ItemGroupData>\n"
        "\t\t\t</FormData>\n"
        "\t\t</StudyEventData>\n"
        "\t</SubjectData>\n"
    )
    text = odm(DOCTEST, doctest_rows())
    assert expected in text
    assert expected in (FIXTURES / "pycap_doctest_project.xml").read_text()
    assert text.endswith("\t</SubjectData>\n</ClinicalData>\n</ODM>")


def test_header_matches_redcap() -> None:
    text = odm(DOCTEST, doctest_rows())
    fixture = (FIXTURES / "pycap_doctest_project.xml").read_text()
    # Same root element up to the version and timestamps.
    ours = text.split("\n")[1]
    theirs = fixture.split("\n")[1]
    assert ours.split(" AsOfDateTime")[0] == theirs.split(" AsOfDateTime")[0]
    assert 'AsOfDateTime="2025-05-02T12:06:30"' in ours
    assert (
        '<ClinicalData StudyOID="Project.DoctestProject" '
        'MetaDataVersionOID="Metadata.DoctestProject_2025-05-02_1206">' in text
    )
    assert text.startswith('<?xml version="1.0" encoding="UTF-8" ?>\n<ODM ')


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("doctest project", "DoctestProject"),
        ("PyCap Test Simple Project", "PyCapTestSimpleProject"),
        ("REDCapR: empty rows", "REDCapREmptyRows"),
        ("REDCapR: arm-multiple-delete", "REDCapRArmmultipledelete"),
        ("REDCapR: potentially-problematic-dictionary", "REDCapRPotentiallyproblematicd"),
    ],
)
def test_study_oid_name(title: str, name: str) -> None:
    assert study_oid_name(title) == name


def test_classic_repeating_instrument_like_redcapr() -> None:
    # REDCapR repeating-instruments project.xml: no StudyEventData in classic projects,
    # repeating instances as FormRepeatKey, no record_id item inside the instances.
    study = OdmStudy(
        project_title="REDCapR: repeating-instruments",
        record_id_field="record_id",
        longitudinal=False,
        field_form={
            "record_id": "demographics",
            "first_name": "demographics",
            "demographics_complete": "demographics",
            "date_bp": "bp",
            "bp_systolic": "bp",
            "bp_complete": "bp",
        },
        group_starts={"record_id": "demographics.record_id", "date_bp": "bp.date_bp"},
        as_of=WHEN,
    )
    rows = [
        OdmRecordRow(
            "1",
            None,
            "",
            1,
            "",
            {"record_id": "1", "first_name": "aaa", "demographics_complete": "2"},
        ),
        OdmRecordRow(
            "1",
            None,
            "bp",
            1,
            "",
            {"date_bp": "2019-10-14", "bp_systolic": "110", "bp_complete": "2"},
        ),
        OdmRecordRow("1", None, "bp", 2, "", {"date_bp": "2019-10-14", "bp_complete": "2"}),
        OdmRecordRow("2", None, "", 1, "", {"record_id": "2", "first_name": ""}),
    ]
    text = odm(study, rows)
    assert "StudyEventData" not in text
    assert text.count("<SubjectData ") == 2
    assert (
        '\t<SubjectData SubjectKey="1" redcap:RecordIdField="record_id">\n'
        '\t\t\t<FormData FormOID="Form.demographics" FormRepeatKey="1">\n'
    ) in text
    assert '\t\t\t<FormData FormOID="Form.bp" FormRepeatKey="2">\n' in text
    assert (
        '\t\t\t\t<ItemGroupData ItemGroupOID="bp.date_bp" ItemGroupRepeatKey="1">\n'
        '\t\t\t\t\t<ItemData ItemOID="date_bp" Value="2019-10-14"/>\n'
    ) in text
    root = fromstring(text.encode())
    subjects = root.findall("odm:ClinicalData/odm:SubjectData", NS)
    assert [s.get("SubjectKey") for s in subjects] == ["1", "2"]
    assert [f.get("FormRepeatKey") for f in subjects[0].findall("odm:FormData", NS)] == [
        "1",
        "1",
        "2",
    ]


def test_longitudinal_events_repeating_event_and_dag() -> None:
    study = OdmStudy(
        project_title="Long",
        record_id_field="study_id",
        longitudinal=True,
        field_form={"study_id": "demo", "visit_note": "visit", "visit_complete": "visit"},
        as_of=WHEN,
    )
    rows = [
        OdmRecordRow("10", "enrol_arm_1", "", 1, "site_a", {"study_id": "10"}),
        OdmRecordRow("10", "visit_arm_1", "", 1, "site_a", {"visit_note": "first"}),
        OdmRecordRow("10", "visit_arm_1", "", 2, "site_a", {"visit_note": "second"}),
        OdmRecordRow("11", "enrol_arm_1", "", 1, "", {"study_id": "11", "visit_note": ""}),
    ]
    root = fromstring(odm(study, rows).encode())
    subject = root.find("odm:ClinicalData/odm:SubjectData", NS)
    events = subject.findall("odm:StudyEventData", NS)
    assert [(e.get("StudyEventOID"), e.get("StudyEventRepeatKey")) for e in events] == [
        ("Event.enrol_arm_1", "1"),
        ("Event.visit_arm_1", "1"),
        ("Event.visit_arm_1", "2"),
    ]
    assert events[0].get(R + "UniqueEventName") == "enrol_arm_1"
    items = [(i.get("ItemOID"), i.get("Value")) for i in events[0].iter(ODM + "ItemData")]
    # The DAG follows the record-ID item (pycap_doctest_project.xml, record 1).
    assert items == [("study_id", "10"), ("redcap_data_access_group", "site_a")]
    group = events[1].find("odm:FormData/odm:ItemGroupData", NS)
    assert group.get("ItemGroupOID") == "visit.visit_note"


def test_group_without_its_first_item_gets_empty_oid() -> None:
    # pycap_test_long_project.xml: <ItemGroupData ItemGroupOID="" ...> for pmq3 when pmq1 is
    # blank, and the <form>_complete group after it.
    study = OdmStudy(
        project_title="t",
        record_id_field="study_id",
        longitudinal=False,
        field_form={"pmq1": "pmq", "pmq3": "pmq", "pmq_complete": "pmq"},
        group_starts={"pmq1": "pmq.pmq1"},
        as_of=WHEN,
    )
    text = odm(study, [OdmRecordRow("1", None, "", 1, "", {"pmq3": "1", "pmq_complete": "0"})])
    assert (
        '\t\t\t\t<ItemGroupData ItemGroupOID="" ItemGroupRepeatKey="1">\n'
        '\t\t\t\t\t<ItemData ItemOID="pmq3" Value="1"/>\n'
        "\t\t\t\t</ItemGroupData>\n"
        '\t\t\t\t<ItemGroupData ItemGroupOID="pmq.pmq_complete" ItemGroupRepeatKey="1">\n'
    ) in text


def test_attribute_escaping_and_line_breaks_survive_parsing() -> None:
    value = 'O\'Brien & "Sons" <ltd>\nline 2\r\nline 3\tend'
    study = OdmStudy("t & co", "id", False, {"id": "f", "note": "f"}, as_of=WHEN)
    text = odm(study, [OdmRecordRow("a&b", None, "", 1, "", {"id": "a&b", "note": value})])
    # PHP htmlspecialchars(ENT_QUOTES) spelling, as in the fixtures (&#039;).
    assert (
        "O&#039;Brien &amp; &quot;Sons&quot; &lt;ltd&gt;&#10;line 2&#13;&#10;line 3&#9;end" in text
    )
    assert 'Description="t &amp; co"' in text
    root = fromstring(text.encode())
    items = {i.get("ItemOID"): i.get("Value") for i in root.iter(ODM + "ItemData")}
    assert items == {"id": "a&b", "note": value}
    assert root.find("odm:ClinicalData/odm:SubjectData", NS).get("SubjectKey") == "a&b"


def test_empty_export_is_valid_odm() -> None:
    text = odm(DOCTEST, [])
    root = fromstring(text.encode())
    assert root.tag == ODM + "ODM"
    assert root.find("odm:ClinicalData", NS) is not None
    assert root.find("odm:ClinicalData/odm:SubjectData", NS) is None


def test_legacy_flat_call_used_by_reports() -> None:
    # api/methods/reports.py calls write_odm(project, header, rows, column_forms).
    fields = [
        SimpleNamespace(field_name="record_id", form_name="demo", section_header=""),
        SimpleNamespace(field_name="name", form_name="demo", section_header="Contact"),
        SimpleNamespace(field_name="race", form_name="demo", section_header=""),
    ]
    project = SimpleNamespace(
        project_title="Flat project",
        record_id_field="record_id",
        is_longitudinal=False,
        fields=fields,
        field_by_name={f.field_name: f for f in fields},
        form_of=lambda n: "demo",
    )
    header = [
        "record_id",
        "redcap_data_access_group",
        "name",
        "race___1",
        "race___2",
        "demo_complete",
    ]
    forms = ["demo", None, "demo", "demo", "demo", "demo"]
    rows = [["1", "dag_a", "Ann", "1", "0", "2"], ["2", "", "", "0", "0", ""]]
    text = b"".join(write_odm(project, header, rows, forms)).decode()
    root = fromstring(text.encode())
    subjects = root.findall("odm:ClinicalData/odm:SubjectData", NS)
    assert [s.get("SubjectKey") for s in subjects] == ["1", "2"]
    groups = subjects[0].findall("odm:FormData/odm:ItemGroupData", NS)
    assert [g.get("ItemGroupOID") for g in groups] == [
        "demo.record_id",
        "demo.name",
        "demo.demo_complete",
    ]
    assert [i.get("ItemOID") for i in groups[0]] == ["record_id", "redcap_data_access_group"]
    assert [(i.get("ItemOID"), i.get("Value")) for i in groups[1]] == [
        ("name", "Ann"),
        ("race___1", "1"),
        ("race___2", "0"),
    ]
