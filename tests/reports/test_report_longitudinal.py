"""Export Reports on a longitudinal project: events, repeating events and instruments, labels,
event filters and logic filters (EVENT and RECORD filter types, cross-event references)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from report_helpers import csv_table

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
AUTO = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]


def cells(rows, *names):
    return [tuple(r[n] for n in names) for r in rows]


def test_rows_by_record_then_event_then_instance(longitudinal):
    rows = longitudinal.json("all")
    assert list(rows[0]) == [*AUTO, "sex", "weight", "ae_term"]
    assert cells(rows, *AUTO, "sex", "weight", "ae_term") == [
        ("1", "baseline_arm_1", "", "", "0", "70", ""),
        ("1", "baseline_arm_1", "adverse_events", 1, "", "", "Rash"),
        ("1", "visit_2_arm_1", "", 1, "", "71", ""),
        ("1", "visit_2_arm_1", "", 2, "", "72", ""),
        ("2", "baseline_arm_2", "", "", "1", "90", ""),
        ("3", "baseline_arm_1", "", "", "1", "60", ""),
        ("3", "visit_2_arm_1", "", 1, "", "65", ""),
    ]


def test_event_labels_with_arm(longitudinal):
    rows = longitudinal.json("all", rawOrLabel="label")
    assert [r["redcap_event_name"] for r in rows] == [
        "Baseline (Arm 1: Drug)",
        "Baseline (Arm 1: Drug)",
        "Visit 2 (Arm 1: Drug)",
        "Visit 2 (Arm 1: Drug)",
        "Baseline (Arm 2: Placebo)",
        "Baseline (Arm 1: Drug)",
        "Visit 2 (Arm 1: Drug)",
    ]
    assert [r["sex"] for r in rows] == ["Female", "", "", "", "Male", "Male", ""]
    header = csv_table(longitudinal.csv("all", rawOrLabelHeaders="label"))[0]
    assert header[:4] == ["Record ID", "Event Name", "Repeat Instrument", "Repeat Instance"]


def test_csv_longitudinal(longitudinal):
    assert longitudinal.csv("baseline_only") == (
        "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,sex,weight\n"
        "1,baseline_arm_1,,,0,70\n"
        "3,baseline_arm_1,,,1,60\n"
    )


def test_event_filter(longitudinal):
    rows = longitudinal.json("baseline_only")
    assert cells(rows, "record_id", "redcap_event_name") == [
        ("1", "baseline_arm_1"),
        ("3", "baseline_arm_1"),
    ]


def test_logic_filter_per_event(longitudinal):
    rows = longitudinal.json("heavy_event")
    assert cells(rows, "record_id", "redcap_event_name", "redcap_repeat_instance", "weight") == [
        ("1", "visit_2_arm_1", 1, "71"),
        ("1", "visit_2_arm_1", 2, "72"),
        ("2", "baseline_arm_2", "", "90"),
    ]


def test_logic_filter_per_record(longitudinal):
    # RECORD: every row of a record that has a matching row (record 1's baseline 70 too).
    rows = longitudinal.json("heavy_record")
    assert cells(rows, "record_id", "redcap_event_name", "redcap_repeat_instance", "weight") == [
        ("1", "baseline_arm_1", "", "70"),
        ("1", "visit_2_arm_1", 1, "71"),
        ("1", "visit_2_arm_1", 2, "72"),
        ("2", "baseline_arm_2", "", "90"),
    ]


def test_cross_event_logic(longitudinal):
    rows = longitudinal.json("cross_event")
    assert cells(rows, "record_id", "redcap_event_name", "weight") == [
        ("1", "baseline_arm_1", "70"),
        ("1", "visit_2_arm_1", "71"),
        ("1", "visit_2_arm_1", "72"),
    ]


def test_logic_uses_raw_values_in_label_mode(longitudinal):
    rows = longitudinal.json("cross_event", rawOrLabel="label")
    assert [r["record_id"] for r in rows] == ["1", "1", "1"]


def test_xml_longitudinal(longitudinal):
    text = longitudinal.export("baseline_only").text
    assert (
        "<item><record_id><![CDATA[1]]></record_id>"
        "<redcap_event_name><![CDATA[baseline_arm_1]]></redcap_event_name>"
        "<redcap_repeat_instrument></redcap_repeat_instrument>"
        "<redcap_repeat_instance></redcap_repeat_instance>"
        "<sex><![CDATA[0]]></sex><weight><![CDATA[70]]></weight></item>\n"
    ) in text


def test_odm_events_and_repeats(longitudinal):
    root = ET.fromstring(longitudinal.export("all", format="odm").content)
    subjects = root.findall(f"{ODM}ClinicalData/{ODM}SubjectData")
    assert [s.get("SubjectKey") for s in subjects] == ["1", "2", "3"]
    seen = []
    for event in subjects[0].findall(f"{ODM}StudyEventData"):
        unique = event.get("{https://projectredcap.org}UniqueEventName")
        for form in event.findall(f"{ODM}FormData"):
            values = {i.get("ItemOID"): i.get("Value") for i in form.iter(f"{ODM}ItemData")}
            seen.append(
                (
                    unique,
                    event.get("StudyEventRepeatKey"),
                    form.get("FormOID"),
                    form.get("FormRepeatKey"),
                    values.get("weight") or values.get("ae_term") or values.get("sex"),
                )
            )
    assert ("baseline_arm_1", "1", "Form.adverse_events", "1", "Rash") in seen
    assert ("visit_2_arm_1", "1", "Form.visit", "1", "71") in seen
    assert ("visit_2_arm_1", "2", "Form.visit", "1", "72") in seen
    assert ("baseline_arm_1", "1", "Form.visit", "1", "70") in seen
