"""Export PDF (``content=pdf``) over HTTP: which pages come out, what is on them, and who may
see what. The PDFs' text is read back with pypdf; every test runs on SQLite and PostgreSQL.

Check boxes and radio circles are glyphs in the text (☐/☒, ○/◉), so a chosen option reads
``◉ Male`` and an unchosen one ``○ Female``.
"""

from __future__ import annotations

import io
import re
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from pypdf import PdfReader

from api.test_files import user_api
from builders import Api, clinical_classic, clinical_longitudinal, field

FORMS = ("demographics", "visit", "adverse_events")
ALL_FORMS = {form: 1 for form in FORMS}
NO_ACCESS_MESSAGE = (
    'The API request cannot complete because currently you have "No Access" data export '
    "rights. Higher level data export rights are required for this operation."
)
STAMP = r"\d{4}-\d\d-\d\d_\d{4}"


def pdf(api: Api, **params: Any) -> requests.Response:
    params.setdefault("returnFormat", "json")
    response = api.call(content="pdf", action="export", **params)
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"%PDF-")
    return response


def pages(response: requests.Response) -> list[str]:
    return [
        page.extract_text() for page in PdfReader(io.BytesIO(response.content), strict=True).pages
    ]


def text(api: Api, **params: Any) -> str:
    return "\n".join(pages(pdf(api, **params)))


def file_name(response: requests.Response) -> str:
    match = re.fullmatch(r'application/pdf; name="([^"]+)"', response.headers["content-type"])
    assert match, response.headers["content-type"]
    return match.group(1)


def put_in_sites(api: Api, sites: dict[str, str]) -> None:
    """A Data Access Group per site name, and each record in its site's group."""
    groups = [{"data_access_group_name": n, "unique_group_name": ""} for n in set(sites.values())]
    api.import_json("dag", groups)
    unique = {n: n.lower().replace(" ", "_") for n in sites.values()}
    rows = [{"record_id": r, "redcap_data_access_group": unique[n]} for r, n in sites.items()]
    api.import_json("record", rows)


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert (response.status_code, response.json()) == (status, {"error": message})


def grant_forms(api: Api, **levels: Any) -> None:
    """Give the project's creator form rights (a project made through the API starts with
    none for instruments added later)."""
    creator = api.json(content="user")[0]["username"]
    api.import_json("user", [{"username": creator, "forms": ALL_FORMS, **levels}])


def classic_with_data(server: Any) -> Api:
    api = clinical_classic(server)
    grant_forms(api)
    api.import_json(
        "record",
        [
            {
                "record_id": "1",
                "first_name": "Zoë Παπαδοπούλου",
                "dob": "1980-02-03",
                "email": "zoe@example.org",
                "sex": "1",
                "race___1": "1",
                "race___3": "1",
                "consent": "1",
                "notes": "Лечащий врач: Иванов",
                "weight": "70",
                "height": "1.75",
                "visit_ok": "1",
            },
            {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": 1,
                "ae_term": "Headache",
                "ae_grade": "2",
            },
            {
                "record_id": "1",
                "redcap_repeat_instrument": "adverse_events",
                "redcap_repeat_instance": 2,
                "ae_term": "Rash",
                "ae_grade": "1",
            },
            {"record_id": "2", "first_name": "Bob"},
        ],
    )
    return api


# -- blank instruments --------------------------------------------------------------------


def test_blank_pdf_of_every_instrument(server):
    api = clinical_classic(server)
    grant_forms(api)
    response = pdf(api)
    assert re.fullmatch(rf"Classicclinical_{STAMP}\.pdf", file_name(response))
    # No other header carries name= (REDCapR scans every header for it).
    assert [k for k, v in response.headers.items() if "name=" in v.lower()] == ["content-type"]
    body = "\n".join(pages(response))
    for label in ("Demographics", "Visit", "Adverse events", "First name", "AE term"):
        assert label in body
    assert "○ Female" in body and "○ Male" in body
    assert "☐ White" in body and "☐ Asian" in body
    assert "○ Yes" in body and "○ True" in body  # yes/no and true/false
    assert "Form Status" in body and "○ Incomplete" in body
    assert "◉" not in body and "☒" not in body  # nothing chosen on a blank form


def test_blank_pdf_of_one_instrument(server):
    api = clinical_classic(server)
    grant_forms(api)
    response = pdf(api, instrument="visit")
    assert file_name(response) == "Visit_Classicclinical.pdf"
    body = "\n".join(pages(response))
    assert "Weight (kg)" in body and "BMI" in body
    assert "First name" not in body and "AE term" not in body


def test_blank_pdf_of_one_event(server):
    api = clinical_longitudinal(server)
    grant_forms(api)
    body = text(api, event="visit_2_arm_1")
    assert "Weight (kg)" in body and "Visit 2" in body
    assert "First name" not in body
    # Without an event: each instrument once, not once per event.
    assert text(api).count("Weight (kg)") == 1


def test_labels_html_and_unicode(server):
    api = clinical_classic(server)
    grant_forms(api)
    api.import_json(
        "metadata",
        [
            field("record_id", "demographics", label="Record ID"),
            field(
                "intro",
                "demographics",
                "descriptive",
                "<p><b>Welcome</b> &amp; thanks.</p><br>Ελληνικά · Кириллица",
            ),
            field(
                "age", "demographics", label="<i>Age</i> in years", field_note="<b>whole</b> years"
            ),
            field(
                "m1",
                "demographics",
                "radio",
                "Monday",
                matrix_group_name="mood",
                select_choices_or_calculations="1, Sad | 2, Happy",
            ),
            field(
                "m2",
                "demographics",
                "radio",
                "Tuesday",
                matrix_group_name="mood",
                select_choices_or_calculations="1, Sad | 2, Happy",
            ),
        ],
    )
    api.import_json("record", [{"record_id": "1", "age": "42", "m1": "2", "m2": "1"}])
    body = text(api, record="1")
    assert "Welcome & thanks." in body and "<b>" not in body and "&amp;" not in body
    assert "Ελληνικά · Кириллица" in body
    assert "Age in years" in body and "whole years" in body
    # A matrix: the choices once as column headings, then one row of circles per field.
    assert body.count("Sad") == 1 and body.count("Happy") == 1
    assert re.search(r"Monday\s*○\s*◉", body) and re.search(r"Tuesday\s*◉\s*○", body)


def test_long_labels_wrap_and_pages_break(server):
    api = clinical_classic(server)
    grant_forms(api)
    many = [field("record_id", "demographics", label="Record ID")] + [
        field(f"q{i}", "demographics", "notes", f"Question {i}: " + "why " * 60) for i in range(25)
    ]
    api.import_json("metadata", many)
    found = pages(pdf(api))
    assert len(found) >= 3
    # Rows break cleanly: each question's whole label is on the page where it starts.
    for i in range(25):
        [page] = [p for p in found if f"Question {i}:" in p]
        label = page.split(f"Question {i}:")[1].split("Question")[0].split("Form Status")[0]
        assert label.split().count("why") == 60
    assert all("Demographics" in page for page in found)  # the header repeats on every page


# -- with data ----------------------------------------------------------------------------


def test_one_record_every_instrument(server):
    api = classic_with_data(server)
    response = pdf(api, record="1")
    assert re.fullmatch(rf"Classicclinical_{STAMP}\.pdf", file_name(response))
    found = pages(response)
    body = "\n".join(found)
    assert "Zoë Παπαδοπούλου" in body and "zoe@example.org" in body
    assert "Лечащий врач: Иванов" in body
    assert "◉ Male" in body and "○ Female" in body
    assert "☒ White" in body and "☐ Black" in body and "☒ Asian" in body
    assert "◉ Yes" in body and "◉ True" in body
    assert "◉ Incomplete" in body  # the form status Import Records set
    # The repeating instrument: one page per instance, numbered in the header.
    assert any("Record ID 1 #1" in p and "Headache" in p and "◉ Moderate" in p for p in found)
    assert any("Record ID 1 #2" in p and "Rash" in p for p in found)
    assert "Bob" not in body


def test_one_instrument_and_one_instance(server):
    api = classic_with_data(server)
    response = pdf(api, record="1", instrument="adverse_events", repeat_instance="2")
    assert re.fullmatch(rf"Adverseevents_Classicclinical_{STAMP}\.pdf", file_name(response))
    body = "\n".join(pages(response))
    assert "Rash" in body and "Headache" not in body and "First name" not in body


def test_longitudinal_record_by_event(server):
    api = clinical_longitudinal(server)
    grant_forms(api)
    api.import_json(
        "record",
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "weight": "70"},
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instance": 1,
                "weight": "71",
            },
            {
                "record_id": "1",
                "redcap_event_name": "visit_2_arm_1",
                "redcap_repeat_instance": 2,
                "weight": "72",
            },
        ],
    )
    found = pages(pdf(api, record="1"))
    headers = [p.splitlines()[0] for p in found]
    assert any("Record ID 1 (Baseline (Arm 1: Drug))" in h for h in headers)
    assert any("(Visit 2 (Arm 1: Drug)) #2" in h for h in headers)
    body = text(api, record="1", event="visit_2_arm_1")
    assert "71" in body and "72" in body and "70" not in body
    assert text(api, record="1", event="visit_2_arm_1", repeat_instance="2").count("72") == 1


def test_all_records(server):
    api = classic_with_data(server)
    response = pdf(api, allRecords="true", record="2", instrument="visit")  # both ignored
    body = "\n".join(pages(response))
    assert "Zoë" in body and "Bob" in body and "Headache" in body


def test_compact_display_prints_fields_with_values_only(server):
    api = classic_with_data(server)
    full = text(api, record="2")
    compact = text(api, record="2", compactDisplay="true")
    assert "Email" in full and "Form Status" in full
    assert "Bob" in compact and "First name" in compact and "Record ID" in compact
    for absent in ("Email", "Sex", "Race", "Form Status", "Complete?"):
        assert absent not in compact
    # Every instrument's page still comes out, header only when it has no data.
    assert "Visit" in compact and "Adverse events" in compact


# -- rights -------------------------------------------------------------------------------


def test_instruments_without_form_access_are_left_out(server):
    api = classic_with_data(server)
    user = user_api(api, "no_visit", data_export=1, forms={**ALL_FORMS, "visit": 0})
    for params in ({}, {"record": "1"}, {"allRecords": "1"}):
        body = text(user, **params)
        assert "First name" in body and "Weight (kg)" not in body
    response = user.call(content="pdf", instrument="visit", returnFormat="json")
    assert_error(response, 403, "You do not have access to the instrument 'visit'")


def test_user_with_no_form_rights_gets_an_explanatory_page(server):
    api = classic_with_data(server)
    user = user_api(api, "nothing", data_export=1)
    body = text(user)
    assert "no access to any instrument" in body and "First name" not in body


@pytest.mark.parametrize(
    ("level", "removed", "kept"),
    [
        (1, [], ["Zoë", "1980-02-03", "zoe@example.org", "Иванов"]),
        (3, ["Zoë", "1980-02-03"], ["zoe@example.org", "Иванов", "◉ Male"]),
        (2, ["Zoë", "1980-02-03", "Иванов"], ["zoe@example.org", "◉ Male"]),
    ],
)
def test_export_rights_remove_identifier_values(server, level, removed, kept):
    api = classic_with_data(server)
    user = user_api(
        api, f"level{level}", forms=ALL_FORMS, forms_export={**ALL_FORMS, "demographics": level}
    )
    for params in ({"record": "1"}, {"allRecords": "1"}):
        body = text(user, **params)
        for value in removed:
            assert value not in body
        for value in kept:
            assert value in body
        assert "Record ID 1" in body  # the record ID is never removed
    # Removed fields are printed, their values replaced (record 1's demographics page).
    assert text(user, record="1").count("[*DATA REMOVED*]") == len(removed)
    # Compact display leaves removed fields out, so not even the presence of a value shows.
    compact = text(user, record="1", compactDisplay="1")
    assert "[*DATA REMOVED*]" not in compact
    assert ("First name" in compact) == (level == 1)


def test_no_export_access_anywhere(server):
    api = classic_with_data(server)
    user = user_api(api, "blind", data_export=0, forms=ALL_FORMS)
    assert "First name" in text(user)  # blank forms hold no data
    for params in ({"record": "1"}, {"allRecords": "1"}):
        response = user.call(content="pdf", returnFormat="json", **params)
        assert_error(response, 403, NO_ACCESS_MESSAGE)
    no_api = user_api(api, "no_api", api_export=0, forms=ALL_FORMS)
    response = no_api.call(content="pdf", returnFormat="json")
    assert response.status_code == 403
    assert response.json() == {"error": "You do not have API Export privileges"}


def test_data_access_groups(server):
    api = classic_with_data(server)
    put_in_sites(api, {"1": "Site A", "2": "Site B"})
    site_a = user_api(
        api, "site_a_user", data_export=1, forms=ALL_FORMS, data_access_group="site_a"
    )
    body = text(site_a, allRecords="1")
    assert "Zoë" in body and "Bob" not in body
    response = site_a.call(content="pdf", record="2", returnFormat="json")
    assert_error(response, 400, 'The record "2" does not exist')


# -- errors -------------------------------------------------------------------------------


def test_errors_in_every_return_format(server):
    api = clinical_longitudinal(server)
    grant_forms(api)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    cases = [
        ({"record": "9"}, 'The record "9" does not exist'),
        ({"instrument": "nope"}, "The instrument 'nope' is not valid"),
        ({"event": "nope_arm_1"}, "The event 'nope_arm_1' is not valid"),
        (
            {"record": "1", "repeat_instance": "x"},
            'The value of the parameter "repeat_instance" is not valid',
        ),
    ]
    for params, message in cases:
        response = api.call(content="pdf", returnFormat="json", **params)
        assert_error(response, 400, message)
        response = api.call(content="pdf", returnFormat="csv", **params)
        assert (response.status_code, response.text) == (400, f"ERROR: {message}")
        response = api.call(content="pdf", **params)  # no returnFormat: XML
        assert response.status_code == 400
        assert ElementTree.fromstring(response.content).findtext("error") == message


def test_empty_parameters_count_as_absent(server):
    """REDCapR sends record, instrument and event empty for a blank PDF."""
    api = clinical_classic(server)
    grant_forms(api)
    body = text(api, record="", instrument="", event="", returnFormat="csv")
    assert "Demographics" in body and "Adverse events" in body
