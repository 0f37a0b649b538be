"""Export Reports through unmodified PyCap and through plain ``requests`` (the seed's examples)."""

from __future__ import annotations

import pytest
import requests
from redcap import Project, RedcapError
from report_helpers import csv_table, xml_items
from test_report_formats import HEADER_ALL, LABEL_HEADER, RAW_ROWS, as_dicts


@pytest.fixture(scope="module")
def pycap(classic) -> Project:
    return Project(classic.api.url, classic.api.token)


def test_pycap_json(pycap, classic):
    assert pycap.export_report(report_id=str(classic.reports["all"])) == as_dicts(RAW_ROWS)
    rows = pycap.export_report(report_id=str(classic.reports["all"]), format_type="json")
    assert rows == as_dicts(RAW_ROWS)


def test_pycap_csv_and_xml(pycap, classic):
    report_id = str(classic.reports["all"])
    assert csv_table(pycap.export_report(report_id, format_type="csv")) == [HEADER_ALL, *RAW_ROWS]
    assert xml_items(pycap.export_report(report_id, format_type="xml")) == [
        dict(zip(HEADER_ALL, row, strict=True)) for row in RAW_ROWS
    ]


def test_pycap_options(pycap, classic):
    report_id = str(classic.reports["all"])
    text = pycap.export_report(
        report_id,
        format_type="csv",
        raw_or_label="label",
        raw_or_label_headers="label",
        export_checkbox_labels=True,
        csv_delimiter=";",
    )
    table = csv_table(text, ";")
    assert table[0] == LABEL_HEADER
    first = dict(zip(LABEL_HEADER, table[1], strict=True))
    assert first["Race (choice=White)"] == "White" and first["Race (choice=Black)"] == ""
    assert first["Sex"] == "Female" and first["Consented?"] == "Yes"
    assert first["Temperature"] == "37,5"  # no quotes needed with ";"
    assert text.split("\n")[1].split(";")[18] == "37,5"


def test_pycap_dataframe_classic(pycap, classic):
    frame = pycap.export_report(str(classic.reports["all"]), format_type="df")
    assert frame.index.name == "record_id"
    assert list(frame.index) == [1, 1, 1, 2, 2, 10]
    assert list(frame.columns) == HEADER_ALL[1:]
    assert list(frame["ae_term"].fillna("")) == ["", "Rash", "Fever", "", "Cough", ""]
    assert list(frame["scan"].fillna("")) == ["[document]", "", "", "", "", ""]


def test_pycap_dataframe_longitudinal(longitudinal):
    project = Project(longitudinal.api.url, longitudinal.api.token)
    frame = project.export_report(str(longitudinal.reports["baseline_only"]), format_type="df")
    assert list(frame.index.names) == ["record_id", "redcap_event_name"]
    assert list(frame.index) == [(1, "baseline_arm_1"), (3, "baseline_arm_1")]
    assert list(frame["weight"]) == [70, 60]


def test_pycap_errors(pycap, classic, longitudinal):
    other = str(longitudinal.reports["all"])
    with pytest.raises(RedcapError) as info:
        pycap.export_report(other)
    assert f"report_id={other} does not belong to this project" in str(info.value)
    no_access = Project(classic.api.url, classic.tokens["noaccess"])
    for fmt in ("json", "csv", "xml"):
        with pytest.raises(RedcapError) as info:
            no_access.export_report(str(classic.reports["all"]), format_type=fmt)
        assert '"No Access" data export rights' in str(info.value)


def test_seed_python_example(classic):
    fields = {
        "token": classic.api.token,
        "content": "report",
        "format": "json",
        "report_id": str(classic.reports["all"]),
    }
    r = requests.post(classic.api.url, data=fields, timeout=30)
    assert r.status_code == 200
    assert r.json() == as_dicts(RAW_ROWS)


def test_curl_style_and_multipart(classic):
    body = (
        f"token={classic.api.token}&content=report&format=json&report_id={classic.reports['all']}"
    )
    r = requests.post(
        classic.api.url,
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        timeout=30,
    )
    assert r.status_code == 200 and r.json() == as_dicts(RAW_ROWS)
    # redcapAPI sends every request as multipart/form-data.
    parts = {
        "token": (None, classic.api.token),
        "content": (None, "report"),
        "format": (None, "csv"),
        "report_id": (None, str(classic.reports["all"])),
    }
    r = requests.post(classic.api.url, files=parts, timeout=30)
    assert r.status_code == 200 and csv_table(r.text) == [HEADER_ALL, *RAW_ROWS]
