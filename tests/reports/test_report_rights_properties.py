"""Property: under De-Identified or Remove-Identifiers rights no protected value ever leaks.

Each protected field holds a value built around a distinctive marker (random text around it:
quotes, line breaks, ``]]>``, ``<``, ``&``, commas, non-ASCII), dates come from year ranges no
other value uses, and identifier choice/checkbox labels and field labels carry markers too. Every
format (csv, json, xml, odm), raw and label values, raw and label headers, is searched for them.
One project per backend; each example overwrites its record.
"""

from __future__ import annotations

import datetime as dt
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import Api, create_project
from builders import field as dd
from localcap.db.tokens import create_project_token

M = {  # field -> the marker its value (or label) carries
    "id_text": "QZXIDTEXTQZX",
    "id_email": "qzxidemailqzx",
    "free_text": "QZXFREETEXTQZX",
    "free_notes": "QZXFREENOTESQZX",
    "log_note": "QZXLOGNOTEQZX",
    "log_id": "QZXLOGIDQZX",
}
LABELS = {  # identifier fields' own labels and choice labels
    "id_text": "QZXLABELIDTEXTQZX",
    "id_radio": "QZXRADIOCHOICEQZX",
    "id_box": "QZXBOXCHOICEQZX",
}

DICTIONARY = [
    dd("record_id", "private", label="Record ID"),
    dd("id_text", "private", label=LABELS["id_text"], identifier="y"),
    dd("id_email", "private", text_validation_type_or_show_slider_number="email", identifier="y"),
    dd("id_date", "private", text_validation_type_or_show_slider_number="date_ymd", identifier="y"),
    dd("id_radio", "private", "radio", "Radio", identifier="y",
       select_choices_or_calculations=f"1, {LABELS['id_radio']} | 2, Other"),
    dd("id_box", "private", "checkbox", "Box", identifier="y",
       select_choices_or_calculations=f"1, {LABELS['id_box']} | 2, Other"),
    dd("free_text", "private"),
    dd("free_notes", "private", "notes"),
    dd("plain_date", "private", text_validation_type_or_show_slider_number="date_ymd"),
    dd("plain_datetime", "private", text_validation_type_or_show_slider_number="datetime_ymd"),
    dd("safe_number", "private", text_validation_type_or_show_slider_number="number"),
    dd("safe_choice", "private", "radio", "Safe", select_choices_or_calculations="1, Fine | 2, Ok"),
    dd("log_note", "log", "notes"),
    dd("log_id", "log", identifier="y"),
    dd("log_grade", "log", "dropdown", "Grade", select_choices_or_calculations="1, Low | 2, High"),
]  # fmt: skip

IDENTIFIERS = ["id_text", "id_email", "log_id"]
FREE_TEXT = ["free_text", "free_notes", "log_note"]


@pytest.fixture(scope="module")
def leak_project(server) -> tuple[Api, dict[str, str], int]:
    api = create_project(server, "Leak hunt")
    api.import_json("metadata", DICTIONARY)
    api.import_json("repeatingFormsEvents", [{"form_name": "log", "custom_form_label": ""}])
    fields = [f["field_name"] for f in DICTIONARY] + ["private_complete", "log_complete"]
    response = api.call(
        content="report",
        action="import",
        format="json",
        returnContent="ids",
        data=json.dumps(
            [
                {"title": "All", "fields": fields},
                {"title": "Combined", "fields": fields, "combine_checkbox_values": True,
                 "remove_line_breaks": False},
            ]
        ),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    pid = api.json(content="project")["project_id"]
    api.import_json(
        "user",
        [
            {"username": "leak_deid", "api_export": 1, "data_export": 2},
            {"username": "leak_noid", "api_export": 1, "data_export": 3},
        ],
    )
    with server.engine.begin() as conn:
        tokens = {
            "deid": create_project_token(conn, pid, "leak_deid"),
            "noid": create_project_token(conn, pid, "leak_noid"),
        }
    return api, tokens, response.json()


NOISE = string.ascii_letters + string.digits + " ,;|^\t\r\n\"'<>&]]>[éß中—"
noise = st.text(alphabet=NOISE, max_size=12)


def around(marker: str) -> st.SearchStrategy[str]:
    return st.builds(lambda a, b: a + marker + b, noise, noise)


def dates(first_year: int, last_year: int) -> st.SearchStrategy[dt.date]:
    return st.dates(dt.date(first_year, 1, 1), dt.date(last_year, 12, 31))


values = st.fixed_dictionaries(
    {
        "id_text": around(M["id_text"]),
        "free_text": around(M["free_text"]),
        "free_notes": around(M["free_notes"]),
        "log_note": around(M["log_note"]),
        "log_id": around(M["log_id"]),
        "id_date": dates(1900, 1949),
        "plain_date": dates(1950, 1999),
        "plain_datetime": st.tuples(dates(2030, 2099), st.integers(0, 23), st.integers(0, 59)),
        "safe_number": st.integers(100000, 999999),
    }
)


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=values)
def test_no_protected_value_leaks(leak_project, data):
    api, tokens, report_ids = leak_project
    day, hour, minute = data["plain_datetime"]
    stamp = f"{day.isoformat()} {hour:02d}:{minute:02d}"
    record = {
        "record_id": "1",
        "id_text": data["id_text"],
        "id_email": f"{M['id_email']}@example.org",
        "id_date": data["id_date"].isoformat(),
        "id_radio": "1",
        "id_box___1": "1",
        "free_text": data["free_text"],
        "free_notes": data["free_notes"],
        "plain_date": data["plain_date"].isoformat(),
        "plain_datetime": stamp,
        "safe_number": str(data["safe_number"]),
        "safe_choice": "1",
    }
    log = {
        "record_id": "1",
        "redcap_repeat_instrument": "log",
        "redcap_repeat_instance": "1",
        "log_note": data["log_note"],
        "log_id": data["log_id"],
        "log_grade": "2",
    }
    imported = api.call(
        content="record",
        action="import",
        format="json",
        overwriteBehavior="overwrite",
        data=json.dumps([record, log]),
    )
    assert imported.status_code == 200, imported.text

    identifiers = [M[f] for f in IDENTIFIERS] + list(LABELS.values()) + [record["id_date"]]
    free = [M[f] for f in FREE_TEXT] + [record["plain_date"], stamp]
    secrets = {"noid": identifiers, "deid": identifiers + free}
    for user, token in tokens.items():
        for report_id in report_ids:
            for fmt in ("csv", "json", "xml", "odm"):
                for mode in ("raw", "label"):
                    response = Api(api.server, token).call(
                        content="report",
                        report_id=str(report_id),
                        format=fmt,
                        rawOrLabel=mode,
                        rawOrLabelHeaders=mode,
                        exportCheckboxLabel="true",
                    )
                    assert response.status_code == 200, response.text
                    text = response.text.lower()
                    where = (user, report_id, fmt, mode)
                    # The export is not trivially empty: safe values are there.
                    assert str(data["safe_number"]) in text, where
                    for secret in secrets[user]:
                        assert secret.lower() not in text, (secret, where)
                    if user == "noid":
                        # Free text stays visible under Remove-Identifiers: markers are found.
                        assert M["free_text"].lower() in text, where
