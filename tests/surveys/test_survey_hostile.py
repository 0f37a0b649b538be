"""The token-less survey pages under attack: hostile links, codes, bodies and answers.

Anyone on the network reaches ``/surveys/``: every answer must be a page (4xx for what is
refused), never a 500 or a traceback, and nothing a respondent sends may be saved outside the
one record and instrument their link names.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
import requests
from survey_helpers import enable_survey, survey_project, surveys_url

from builders import create_project, field
from liveserver import start_server


def form_token(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def assert_page(response: requests.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text


@pytest.fixture(scope="module")
def survey(server):
    api = survey_project(server)
    return api, api.ok(content="surveyLink", record="1", instrument="intake").text


HOSTILE_VALUES = ["\x00", "A" * 5000, "%FF", "é" * 20, "' OR 1=1 --", "../../etc/passwd", ""]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("name", ["s", "sq"])
def test_hostile_links_are_404_pages(server, survey, name, value):
    response = requests.get(surveys_url(server), params={name: value}, timeout=30)
    assert_page(response, 404)


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_access_codes_are_refused(server, survey, value):
    session = requests.Session()
    token = form_token(session, surveys_url(server))
    response = session.post(surveys_url(server), data={"csrf": token, "code": value}, timeout=30)
    assert_page(response, 404)


@pytest.mark.parametrize("value", ["\x00", "nul\x00in the middle", "A" * 200_000])
def test_hostile_answers_are_refused_or_saved_whole(server, survey, value):
    api, _ = survey
    record_id = str(100 + len(value) + value.count("\x00"))
    api.import_json("record", [{"record_id": record_id}])
    link = api.ok(content="surveyLink", record=record_id, instrument="intake").text
    session = requests.Session()
    token = form_token(session, link)
    response = session.post(
        link, data={"csrf": token, "full_name": value, "story": value}, timeout=60
    )
    assert_page(response, 200, 400, 413)
    saved = api.json(content="record", records=record_id)[0]
    assert saved["story"] in ("", value), saved["story"][:100]  # as Import Records would


def test_access_codes_cannot_be_guessed_at_speed(tmp_path):
    """Ten tries a minute per address (the default); then even the right code waits."""
    limited = start_server(tmp_path, None, "sqlite", survey_code_attempts=10)
    try:
        api = survey_project(limited)
        right = api.ok(content="surveyAccessCode", record="1", instrument="intake").text
        session = requests.Session()
        statuses = []
        for n in range(11):
            token = form_token(session, surveys_url(limited))
            guess = {"csrf": token, "code": f"WRONG{n:04d}"}
            statuses.append(session.post(surveys_url(limited), data=guess, timeout=30).status_code)
        assert statuses == [404] * 10 + [429]
        token = form_token(session, surveys_url(limited))
        refused = session.post(surveys_url(limited), data={"csrf": token, "code": right})
        assert_page(refused, 429)
        assert "Too many codes" in refused.text and "Intake" not in refused.text
    finally:
        limited.stop()


def test_huge_and_malformed_bodies_are_refused_pages(server, survey):
    api, _ = survey
    api.import_json("record", [{"record_id": "50"}])
    link = api.ok(content="surveyLink", record="50", instrument="intake").text
    session = requests.Session()
    token = form_token(session, link)
    huge = session.post(link, data={"csrf": token, "story": "x" * (20 << 20)}, timeout=60)
    assert_page(huge, 413)
    for body, content_type in (
        (b"--zz\r\nnonsense", "multipart/form-data; boundary=zz"),
        (b"\xff\xfe&&==%%", "application/x-www-form-urlencoded"),
        (
            b"csrf=" + token.encode() + b"&" + b"&".join(b"f%d=1" % n for n in range(5000)),
            "application/x-www-form-urlencoded",
        ),
    ):
        response = session.post(link, data=body, headers={"content-type": content_type}, timeout=30)
        assert_page(response, 400, 403, 413)
    assert api.json(content="record", records="50")[0]["story"] == ""


class Tags(HTMLParser):
    """The elements and attributes a browser would build from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


SCRIPT = "<script>alert(1)</script>"
HANDLER = '<img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
ATTRIBUTE_BREAK = '"><svg onload=alert(4)>'


def test_markup_everywhere_a_project_puts_text_stays_inert(server):
    """Labels, choices, notes, headers and every survey setting are the designer's input; the
    answers saved are the respondent's. None of it may become a script, handler or link."""
    api = create_project(server, f"P {SCRIPT}")
    hostile = f"{SCRIPT}{HANDLER}{ATTRIBUTE_BREAK}"
    api.import_json(
        "metadata",
        [
            field("record_id", "f"),
            field("t", "f", label=hostile, field_note=hostile, section_header=hostile),
            field(
                "r",
                "f",
                "radio",
                hostile,
                select_choices_or_calculations=f"1, {SCRIPT} | 2, {ATTRIBUTE_BREAK}",
            ),
            field("d", "f", "dropdown", "d", select_choices_or_calculations=f"1, {HANDLER}"),
            field("c", "f", "checkbox", "c", select_choices_or_calculations=f"1, {HANDLER}"),
            field("n", "f", "notes", "n"),
        ],
    )
    api.import_json("record", [{"record_id": "1", "t": hostile}])
    enable_survey(
        api,
        "f",
        "--title",
        hostile,
        "--instructions",
        hostile,
        "--acknowledgement",
        hostile,
    )
    link = api.ok(content="surveyLink", record="1", instrument="f").text
    session = requests.Session()
    page = session.get(link, timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    # a respondent's answers come back on the page when one is refused (r is not a choice)
    again = session.post(
        link, data={"csrf": token, "t": hostile, "n": hostile, "r": "9"}, timeout=30
    )
    assert again.status_code == 400
    token = re.search(r'name="csrf" value="([^"]+)"', again.text).group(1)
    done = session.post(link, data={"csrf": token, "t": hostile, "n": hostile}, timeout=30)
    assert done.status_code == 200
    for response in (page, again, done):
        tags = Tags()
        tags.feed(response.text)
        assert not {"script", "img", "svg", "a", "iframe"} & {tag for tag, _ in tags.found}
        attributes = [(name, value) for _, attrs in tags.found for name, value in attrs]
        assert not [a for a in attributes if a[0].startswith("on")]
        assert not [a for a in attributes if "javascript:" in (a[1] or "") and a[0] != "value"]
        assert "script-src" not in response.headers["content-security-policy"]
    assert api.json(content="record", records="1")[0]["n"] == hostile  # saved as sent


def test_a_respondent_writes_only_their_record_and_instrument_and_sees_no_data(server, survey):
    api, _ = survey
    api.import_json("record", [{"record_id": "60"}, {"record_id": "61", "full_name": "OTHER61"}])
    link = api.ok(content="surveyLink", record="60", instrument="intake").text
    session = requests.Session()
    token = form_token(session, link)
    forged = {
        "csrf": token,
        "full_name": "Me",
        "record_id": "61",
        "redcap_event_name": "x",
        "redcap_repeat_instance": "2",
        "staff_note": "INJECTED",  # a field of another instrument
        "intake_complete": "0",
        "double_age": "999",  # a calc field is computed, never posted
    }
    assert session.post(link, data=forged, timeout=30).status_code == 200
    mine, other = api.json(content="record", records="60,61")
    assert mine["full_name"] == "Me" and mine["staff_note"] == "" and mine["intake_complete"] == "2"
    assert mine["double_age"] != "999"
    assert other["full_name"] == "OTHER61" and other["staff_note"] == ""
    # once complete, the link shows the acknowledgement and nothing that was answered
    after = requests.get(link, timeout=30)
    assert after.status_code == 200 and "Thank you for taking the survey" in after.text
    assert (
        "Me" not in re.sub(r"<[^>]*>", " ", after.text).split() and 'name="csrf"' not in after.text
    )
    again = session.post(link, data={**forged, "full_name": "Changed"}, timeout=30)
    assert_page(again, 200, 403)
    assert api.json(content="record", records="60")[0]["full_name"] == "Me"


@pytest.fixture(scope="module")
def upload_survey(server):
    """A save-and-return survey with a file field, a hidden and a read-only one."""
    api = create_project(server, "Hostile uploads")
    api.import_json(
        "metadata",
        [
            field("record_id", "u"),
            field("name", "u", field_annotation="@DEFAULT='x'"),
            field("scan", "u", "file", "Scan"),
            field("secret", "u", field_annotation="@HIDDEN"),
            field("ro", "u", field_annotation="@READONLY @NOW"),
            field("calc", "u", field_annotation="@CALCTEXT(1/0)"),
        ],
    )
    enable_survey(api, "u", "--save-and-return", "--edit-completed")
    api.import_json("record", [{"record_id": "1", "secret": "S"}])
    return api, api.ok(content="surveyLink", record="1", instrument="u").text


PAGE_PARAMETERS = ["csrf", "return_code", "was_hidden", "begin", "save_return", "name", "scan"]


@pytest.mark.parametrize("name", PAGE_PARAMETERS)
def test_hostile_values_in_every_page_parameter_are_pages(server, upload_survey, name):
    api, link = upload_survey
    for value in [*HOSTILE_VALUES, "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]:
        session = requests.Session()
        token = form_token(session, link)
        data = {"csrf": token, "name": "ok", name: value}
        response = session.post(link, data=data, timeout=30)
        assert_page(response, 200, 400, 403, 404, 413, 429)
    assert api.json(content="record", records="1")[0]["secret"] == "S"


def test_hostile_uploads_are_pages(server, upload_survey):
    api, _ = upload_survey
    api.import_json("record", [{"record_id": "2", "secret": "S"}])
    link = api.ok(content="surveyLink", record="2", instrument="u").text
    code = api.ok(content="surveyReturnCode", record="2", instrument="u").text
    names = ["a\x00b.txt", "../../../etc/passwd", "x" * 5000, "é.txt", "", "con.txt\r\nX: y"]
    for filename in names:
        session = requests.Session()
        token = form_token(session, link)
        files = {"scan": (filename, b"bytes", "text/html"), "secret": ("s.txt", b"x")}
        data = {"csrf": token, "return_code": code, "save_return": "1"}
        response = session.post(link, data=data, files=files, timeout=30)
        assert_page(response, 200, 400, 413)
    session = requests.Session()
    token = form_token(session, link)
    many = {f"f{n}": ("a.txt", b"x") for n in range(40)}
    assert_page(session.post(link, data={"csrf": token}, files=many, timeout=30), 200, 400, 403)
    big = {"scan": ("big.bin", b"\0" * (40 << 20))}
    assert_page(session.post(link, data={"csrf": token}, files=big, timeout=60), 413, 400)
    saved = api.json(content="record", records="2")[0]
    assert saved["secret"] == "S" and saved["scan"]  # the last good upload is there


@pytest.mark.parametrize(
    "cookie", ["\x7f" * 10, "A" * 4000, "é", "1.2.3", "localcap", "%00%ff", '"quoted"']
)
def test_hostile_session_cookies_are_pages(server, upload_survey, cookie):
    _, link = upload_survey
    session = requests.Session()
    page = session.get(link, timeout=30, headers={"cookie": f"localcap_survey_csrf={cookie}"})
    assert_page(page, 200, 400)
    if page.status_code == 400:  # the HTTP server itself refused the header's bytes
        return
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    posted = requests.post(
        link,
        data={"csrf": token, "name": "x"},
        headers={"cookie": f"localcap_survey_csrf={cookie}"},
        timeout=30,
    )
    assert_page(posted, 403)


@pytest.mark.parametrize("query", ["s=&s=", "s=A&sq=B", "sq=" + "Z" * 20, "s=%00", "x=1"])
def test_hostile_query_strings_are_pages(server, upload_survey, query):
    for method in ("get", "post"):
        response = getattr(requests, method)(f"{surveys_url(server)}?{query}", timeout=30)
        assert_page(response, 200, 403, 404)
