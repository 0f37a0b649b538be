"""Export Reports on a classic project: every parameter and format, over HTTP.

Expected outputs are written from REDCap's documented behaviour (the reference doc): column
order, automatic columns, checkbox expansion, labels, ``[document]``, line-break removal,
PHP-style CSV, JSON strings, XML with CDATA, ODM.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from report_helpers import csv_table, xml_items

HEADER_ALL = [
    "record_id",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "first_name",
    "dob",
    "email",
    "sex",
    "race___1",
    "race___2",
    "race___3",
    "race___98",
    "consent",
    "notes",
    "comment",
    "demographics_complete",
    "visit_date",
    "weight",
    "height",
    "temp",
    "score",
    "bmi",
    "visit_ok",
    "scan",
    "visit_complete",
    "ae_term",
    "ae_grade",
    "adverse_events_complete",
]

# One row per record (non-repeating data) then one per AE instance; record order 1, 2, 10.
# A repeating instrument's rows carry only that instrument's fields.
# CRLF -> two spaces, LF -> two, CR -> one, " -> '.  File fields -> [document].
RAW_ROWS = [
    ["1", "", "", "Ann", "1980-01-02", "ann@example.org", "0", "1", "0", "1", "0", "1",
     "line1  line2", "say 'hi'", "2", "2024-01-10", "70.5", "1.7", "37,5", "9", "24.4", "1",
     "[document]", "1", "", "", ""],
    ["1", "adverse_events", "1"] + [""] * 21 + ["Rash", "2", "0"],
    ["1", "adverse_events", "2"] + [""] * 21 + ["Fever", "3", "2"],
    ["2", "", "", "Bob", "", "", "1", "0", "1", "0", "0", "0", "a  b", "x y", "0", "", "80",
     "1.8", "", "10", "", "0", "", "0", "", "", ""],
    ["2", "adverse_events", "1"] + [""] * 21 + ["Cough", "1", "0"],
    ["10", "", "", "Cy", "", "", "1", "0", "0", "0", "0", "", "", "has, comma", "0", "", "9.5",
     "", "", "2", "", "", "", "0", "", "", ""],
]  # fmt: skip

LABEL_ROWS = [
    ["1", "", "", "Ann", "1980-01-02", "ann@example.org", "Female", "Checked", "Unchecked",
     "Checked", "Unchecked", "Yes", "line1  line2", "say 'hi'", "Complete", "2024-01-10", "70.5",
     "1.7", "37,5", "9", "24.4", "True", "[document]", "Unverified", "", "", ""],
    ["1", "Adverse Events", "1"] + [""] * 21 + ["Rash", "Moderate", "Incomplete"],
    ["1", "Adverse Events", "2"] + [""] * 21 + ["Fever", "Severe", "Complete"],
    ["2", "", "", "Bob", "", "", "Male", "Unchecked", "Checked", "Unchecked", "Unchecked", "No",
     "a  b", "x y", "Incomplete", "", "80", "1.8", "", "10", "", "False", "", "Incomplete", "", "",
     ""],
    ["2", "Adverse Events", "1"] + [""] * 21 + ["Cough", "Mild", "Incomplete"],
    ["10", "", "", "Cy", "", "", "Male", "Unchecked", "Unchecked", "Unchecked", "Unchecked", "",
     "", "has, comma", "Incomplete", "", "9.5", "", "", "2", "", "", "", "Incomplete", "", "",
     ""],
]  # fmt: skip

LABEL_HEADER = [
    "Record ID",
    "Repeat Instrument",
    "Repeat Instance",
    "First name",
    "Date of birth",
    "Email",
    "Sex",
    "Race (choice=White)",
    "Race (choice=Black)",
    "Race (choice=Asian)",
    "Race (choice=Other)",
    "Consented?",
    "Notes",
    "Comment",
    "Complete?",
    "Visit date",
    "Weight (kg)",
    "Height (m)",
    "Temperature",
    "Score",
    "BMI",
    "Visit done",
    "Scan",
    "Complete?",
    "AE term",
    "Grade",
    "Complete?",
]


@pytest.fixture(scope="module")
def ae_label(classic) -> str:
    """The repeating instrument's label, as the project reports it (Export Instruments)."""
    instruments = classic.api.json(content="instrument")
    return {i["instrument_name"]: i["instrument_label"] for i in instruments}["adverse_events"]


def with_ae_label(rows: list[list[str]], label: str) -> list[list[str]]:
    return [[label if v == "Adverse Events" else v for v in row] for row in rows]


def as_dicts(rows: list[list[str]]) -> list[dict[str, object]]:
    result = []
    for row in rows:
        item: dict[str, object] = dict(zip(HEADER_ALL, row, strict=True))
        if item["redcap_repeat_instance"]:
            item["redcap_repeat_instance"] = int(item["redcap_repeat_instance"])
        result.append(item)
    return result


# -- csv --------------------------------------------------------------------------------------
def test_csv_raw_is_php_style(classic):
    response = classic.export("all", format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.text
    assert csv_table(text) == [HEADER_ALL, *RAW_ROWS]
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == len(RAW_ROWS) + 2  # every line ends with \n
    assert "\r" not in text
    # Quoted only when holding the delimiter, a quote, a line break, a tab or a space.
    assert lines[1].startswith("1,,,Ann,1980-01-02,ann@example.org,0,1,0,1,0,1,")
    assert (
        ',"line1  line2","say \'hi\'",2,2024-01-10,70.5,1.7,"37,5",9,24.4,1,[document],1,,,'
        in (lines[1])
    )
    assert lines[6] == '10,,,Cy,,,1,0,0,0,0,,,"has, comma",0,,9.5,,,2,,,,0,,,'


def test_csv_labels_and_label_headers(classic, ae_label):
    text = classic.csv("all", rawOrLabel="label", rawOrLabelHeaders="label")
    assert csv_table(text) == [LABEL_HEADER, *with_ae_label(LABEL_ROWS, ae_label)]
    first_line = text.split("\n")[0]
    assert first_line.startswith('"Record ID","Repeat Instrument","Repeat Instance","First name"')
    assert ",Email,Sex," in first_line and ",Consented?,Notes,Comment,Complete?," in first_line


def test_label_headers_with_raw_values(classic):
    table = csv_table(classic.csv("all", rawOrLabelHeaders="label"))
    assert table == [LABEL_HEADER, *RAW_ROWS]


@pytest.mark.parametrize(
    ("param", "character"),
    [(",", ","), ("tab", "\t"), (";", ";"), ("|", "|"), ("^", "^")],
)
def test_csv_delimiters(classic, param, character):
    text = classic.csv("all", csvDelimiter=param)
    assert csv_table(text, character) == [HEADER_ALL, *RAW_ROWS]
    assert text.split("\n")[0] == character.join(HEADER_ALL)
    line = text.split("\n")[6]
    # "37,5" needs quotes only when the delimiter is a comma; spaces always need them.
    expected = ["10", "", "", "Cy", "", "", "1", "0", "0", "0", "0", "", "", '"has, comma"', "0",
                "", "9.5", "", "", "2", "", "", "", "0", "", "", ""]  # fmt: skip
    assert line == character.join(expected)
    first = text.split("\n")[1]
    assert ('"37,5"' in first) == (character == ",")
    assert ("37,5" in first) is True


def test_csv_delimiter_tab_quotes_tabs(classic):
    # A value holding the delimiter is quoted; PHP's fputcsv also quotes any tab.
    text = classic.csv("all", csvDelimiter="tab")
    assert "\t[document]\t" in text.split("\n")[1]


# -- json -------------------------------------------------------------------------------------
def test_json_raw(classic):
    response = classic.export("all", format="json")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    rows = response.json()
    assert rows == as_dicts(RAW_ROWS)
    for row in rows:
        assert list(row) == HEADER_ALL
        for key, value in row.items():
            if key == "redcap_repeat_instance" and value != "":
                assert isinstance(value, int)
            else:
                assert isinstance(value, str), (key, value)


def test_json_labels(classic, ae_label):
    rows = classic.json("all", rawOrLabel="label")
    assert rows == as_dicts(with_ae_label(LABEL_ROWS, ae_label))


def test_json_ignores_label_headers(classic):
    assert classic.json("all", rawOrLabelHeaders="label") == as_dicts(RAW_ROWS)


# -- xml (the default) ------------------------------------------------------------------------
def test_xml_is_the_default(classic):
    response = classic.export("all")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    text = response.text
    assert text.startswith('<?xml version="1.0" encoding="UTF-8" ?>\n<records>\n<item>')
    assert text.rstrip().endswith("</item>\n</records>")
    assert "<record_id><![CDATA[1]]></record_id>" in text
    assert "<redcap_repeat_instrument></redcap_repeat_instrument>" in text
    assert "<scan><![CDATA[[document]]]></scan>" in text
    assert "<notes><![CDATA[line1  line2]]></notes>" in text
    expected = [dict(zip(HEADER_ALL, row, strict=True)) for row in RAW_ROWS]
    assert xml_items(text) == expected
    assert xml_items(classic.export("all", format="xml").text) == expected
    # Unknown formats are treated as xml, as REDCap does.
    assert xml_items(classic.export("all", format="yaml").text) == expected


# -- odm --------------------------------------------------------------------------------------
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def odm_items(text: str) -> dict[tuple[str, str, str, str], str]:
    """(record, form, form repeat key, item) -> value."""
    root = ET.fromstring(text.encode())
    found = {}
    for subject in root.iter(f"{ODM}SubjectData"):
        for form in subject.iter(f"{ODM}FormData"):
            for item in form.iter(f"{ODM}ItemData"):
                key = (
                    subject.get("SubjectKey"),
                    form.get("FormOID"),
                    form.get("FormRepeatKey"),
                    item.get("ItemOID"),
                )
                assert key not in found, f"{key} twice"
                found[key] = item.get("Value")
    return found


def test_odm_holds_the_report_rows(classic):
    response = classic.export("all", format="odm")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{ODM}ODM"
    clinical = root.find(f"{ODM}ClinicalData")
    assert clinical is not None
    subjects = clinical.findall(f"{ODM}SubjectData")
    assert [s.get("SubjectKey") for s in subjects] == ["1", "2", "10"]
    for subject in subjects:
        for event in subject.findall(f"{ODM}StudyEventData"):
            for form in event.findall(f"{ODM}FormData"):
                assert form.findall(f"{ODM}ItemGroupData")
                for group in form.findall(f"{ODM}ItemGroupData"):
                    assert group.findall(f"{ODM}ItemData")
    items = odm_items(response.text)
    assert items[("1", "Form.demographics", "1", "record_id")] == "1"
    assert items[("1", "Form.demographics", "1", "first_name")] == "Ann"
    assert items[("1", "Form.demographics", "1", "race___3")] == "1"
    assert items[("1", "Form.visit", "1", "scan")] == "[document]"
    assert items[("1", "Form.adverse_events", "1", "ae_term")] == "Rash"
    assert items[("1", "Form.adverse_events", "2", "ae_term")] == "Fever"
    assert items[("1", "Form.adverse_events", "2", "adverse_events_complete")] == "2"
    assert items[("2", "Form.adverse_events", "1", "ae_grade")] == "1"
    assert items[("10", "Form.demographics", "1", "comment")] == "has, comma"
    # Line-break removal does not apply to ODM: values keep their line breaks.
    assert items[("1", "Form.demographics", "1", "notes")] == "line1\r\nline2"
    assert items[("2", "Form.demographics", "1", "notes")] == "a\nb"
    assert items[("1", "Form.demographics", "1", "comment")] == 'say "hi"'


def test_odm_record_id_once_per_form(classic):
    # A report without demographics fields still names each record once.
    items = odm_items(classic.export("visit_only", format="odm").text)
    assert items[("1", "Form.visit", "1", "weight")] == "70.5"
    assert sum(1 for k in items if k[0] == "1" and k[3] == "record_id") == 1


# -- empty report -----------------------------------------------------------------------------
def test_empty_report(classic):
    assert classic.csv("empty") == "record_id,redcap_repeat_instrument,redcap_repeat_instance,sex\n"
    assert classic.json("empty") == []
    assert classic.export("empty", format="json").text == "[]"
    assert xml_items(classic.export("empty").text) == []
    root = ET.fromstring(classic.export("empty", format="odm").content)
    assert root.findall(f".//{ODM}SubjectData") == []


# -- parameters -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True"])
def test_export_checkbox_label_true(classic, value):
    rows = classic.json("all", rawOrLabel="label", exportCheckboxLabel=value)
    assert [[r[f"race___{c}"] for c in ("1", "2", "3", "98")] for r in rows] == [
        ["White", "", "Asian", ""],
        ["", "", "", ""],
        ["", "", "", ""],
        ["", "Black", "", ""],
        ["", "", "", ""],
        ["", "", "", ""],
    ]


@pytest.mark.parametrize("value", ["0", "false", "yes", "on", ""])
def test_export_checkbox_label_false(classic, value):
    rows = classic.json("all", rawOrLabel="label", exportCheckboxLabel=value)
    assert [rows[0][f"race___{c}"] for c in ("1", "2", "3", "98")] == [
        "Checked",
        "Unchecked",
        "Checked",
        "Unchecked",
    ]


def test_export_checkbox_label_needs_label_mode(classic):
    assert classic.json("all", exportCheckboxLabel="true") == as_dicts(RAW_ROWS)


@pytest.mark.parametrize("value", ["labels", "", "xyz", "1"])
def test_bad_raw_or_label_is_raw(classic, value):
    assert classic.json("all", rawOrLabel=value) == as_dicts(RAW_ROWS)


@pytest.mark.parametrize("value", ["labels", "", "xyz"])
def test_bad_raw_or_label_headers_is_raw(classic, value):
    assert csv_table(classic.csv("all", rawOrLabelHeaders=value))[0] == HEADER_ALL


@pytest.mark.parametrize("value", ["flat", "eav", "nonsense"])
def test_type_is_ignored(classic, value):
    assert classic.json("all", type=value) == as_dicts(RAW_ROWS)


def numbers(rows: list[dict], *names: str) -> list[tuple[str, ...]]:
    return [tuple(r[n] for n in names) for r in rows]


def test_decimal_character(classic):
    names = ("weight", "height", "temp", "bmi", "score")
    native = [("70.5", "1.7", "37,5", "24.4", "9"), ("80", "1.8", "", "", "10"),
              ("9.5", "", "", "", "2")]  # fmt: skip
    comma = [("70,5", "1,7", "37,5", "24,4", "9"), ("80", "1,8", "", "", "10"),
             ("9,5", "", "", "", "2")]  # fmt: skip
    dot = [("70.5", "1.7", "37.5", "24.4", "9"), ("80", "1.8", "", "", "10"),
           ("9.5", "", "", "", "2")]  # fmt: skip
    assert numbers(classic.json("visit_numbers"), *names) == native
    assert numbers(classic.json("visit_numbers", decimalCharacter=""), *names) == native
    assert numbers(classic.json("visit_numbers", decimalCharacter=","), *names) == comma
    assert numbers(classic.json("visit_numbers", decimalCharacter="."), *names) == dot
    # Free text is never touched.
    rows = classic.json("all", decimalCharacter=".")
    assert rows[5]["comment"] == "has, comma"
    # In CSV a comma decimal needs quotes when the delimiter is a comma.
    text = classic.csv("visit_numbers", decimalCharacter=",")
    assert text.split("\n")[1] == '1,,,"70,5","1,7","37,5",9,"24,4"'
    assert classic.csv("visit_numbers", decimalCharacter=",", csvDelimiter=";").split("\n")[1] == (
        "1;;;70,5;1,7;37,5;9;24,4"
    )


def test_return_format_only_shapes_errors(classic):
    assert classic.json("all", returnFormat="csv") == as_dicts(RAW_ROWS)
    response = classic.api.call(content="report", report_id="999999", format="csv",
                                returnFormat="json")  # fmt: skip
    assert response.status_code == 403
    assert response.json() == {
        "error": "The API request cannot complete because report_id=999999 does not belong to "
        "this project."
    }
    response = classic.api.call(content="report", report_id="999999", format="json",
                                returnFormat="csv")  # fmt: skip
    assert response.text.startswith("ERROR: The API request cannot complete because report_id=")
    response = classic.api.call(content="report", report_id="999999", format="json",
                                returnFormat="xml")  # fmt: skip
    assert "<error>The API request cannot complete" in response.text


# -- columns ----------------------------------------------------------------------------------
def test_report_field_order_with_record_id_first(classic):
    rows = classic.json("reordered")
    assert [list(r) for r in rows][0] == [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "weight",
        "sex",
        "first_name",
    ]
    assert numbers(rows, "record_id", "weight", "sex", "first_name") == [
        ("1", "70.5", "0", "Ann"),
        ("2", "80", "1", "Bob"),
        ("10", "9.5", "1", "Cy"),
    ]


def test_combined_checkboxes_and_dag_column(classic):
    rows = classic.json("combined")
    assert rows == [
        {"record_id": "1", "redcap_repeat_instrument": "", "redcap_repeat_instance": "",
         "redcap_data_access_group": "site_a", "race": "1,3", "sex": "0"},
        {"record_id": "2", "redcap_repeat_instrument": "", "redcap_repeat_instance": "",
         "redcap_data_access_group": "site_b", "race": "2", "sex": "1"},
        {"record_id": "10", "redcap_repeat_instrument": "", "redcap_repeat_instance": "",
         "redcap_data_access_group": "", "race": "", "sex": "1"},
    ]  # fmt: skip
    labelled = classic.json("combined", rawOrLabel="label")
    assert [r["redcap_data_access_group"] for r in labelled] == ["Site A", "Site B", ""]
    assert [r["sex"] for r in labelled] == ["Female", "Male", "Male"]
    header = csv_table(classic.csv("combined", rawOrLabelHeaders="label"))[0]
    assert header == [
        "Record ID",
        "Repeat Instrument",
        "Repeat Instance",
        "Data Access Group",
        "Race",
        "Sex",
    ]


def test_line_breaks_kept_when_the_report_says_so(classic):
    rows = classic.json("keep_breaks")
    assert numbers(rows, "record_id", "notes", "comment") == [
        ("1", "line1\r\nline2", 'say "hi"'),
        ("2", "a\nb", "x\ry"),
        ("10", "", "has, comma"),
    ]
    text = classic.csv("keep_breaks")
    assert text == (
        "record_id,redcap_repeat_instrument,redcap_repeat_instance,notes,comment\n"
        '1,,,"line1\r\nline2","say ""hi"""\n'
        '2,,,"a\nb","x\ry"\n'
        '10,,,,"has, comma"\n'
    )
    assert "<notes><![CDATA[line1\r\nline2]]></notes>" in classic.export("keep_breaks").text


# -- rows -------------------------------------------------------------------------------------
def test_repeating_instrument_rows_only(classic):
    # Rows whose report fields are all blank are left out: only AE rows hold AE fields.
    rows = classic.json("ae_only")
    assert numbers(rows, "record_id", "redcap_repeat_instrument", "redcap_repeat_instance",
                   "ae_term", "ae_grade") == [
        ("1", "adverse_events", 1, "Rash", "2"),
        ("1", "adverse_events", 2, "Fever", "3"),
        ("2", "adverse_events", 1, "Cough", "1"),
    ]  # fmt: skip


def test_order_by_numeric_descending(classic):
    # score is integer-validated: 10 > 9 > 2 numerically (as strings "9" would come first).
    rows = classic.json("ordered")
    assert numbers(rows, "record_id", "score") == [("2", "10"), ("1", "9"), ("10", "2")]


def test_order_by_two_keys(classic):
    rows = classic.json("ordered_weight")
    # sex ASC (0 before 1), then weight ASC numerically (9.5 before 80).
    assert numbers(rows, "record_id", "sex", "weight") == [
        ("1", "0", "70.5"),
        ("10", "1", "9.5"),
        ("2", "1", "80"),
    ]


def test_order_by_ties_keep_default_order(classic):
    rows = classic.json("ordered_ties")
    assert numbers(rows, "record_id", "sex") == [("2", "1"), ("10", "1"), ("1", "0")]


def test_logic_filter(classic):
    assert numbers(classic.json("logic"), "record_id", "weight") == [("2", "80"), ("10", "9.5")]


def test_logic_filter_on_repeating_rows(classic):
    rows = classic.json("ae_logic")
    assert numbers(rows, "record_id", "redcap_repeat_instance", "ae_term") == [
        ("1", 1, "Rash"),
        ("1", 2, "Fever"),
    ]


def test_dag_filter(classic):
    assert numbers(classic.json("site_a"), "record_id", "sex") == [("1", "0")]
