"""Survey projects for the tests: a dictionary with every question type and some branching
logic, enabled as a survey with the real CLI (`localcap survey enable`), a long project from
PyCap's REDCap XML, and what a respondent's browser does (open a link, post its form)."""

from __future__ import annotations

import re

import requests
from click.testing import CliRunner

from builders import Api, create_project, field
from liveserver import LiveServer
from localcap.cli import main
from localcap.db.tokens import create_project_token
from projectxml.projectxml_helpers import create_from_fixture

HOSTILE = '<script>alert("label")</script><b>Bold</b> <img src=x onerror="alert(2)">'

SURVEY_DICTIONARY = [
    field("record_id", "intake", label="Record ID"),
    field(
        "full_name",
        "intake",
        label="Full name",
        required_field="y",
        identifier="y",
        section_header="About you",
    ),
    field(
        "age",
        "intake",
        label="Age",
        text_validation_type_or_show_slider_number="integer",
        field_note="In whole years",
    ),
    field(
        "visit_date",
        "intake",
        label="Visit date",
        text_validation_type_or_show_slider_number="date_ymd",
    ),
    field(
        "colour",
        "intake",
        "radio",
        "Favourite colour",
        select_choices_or_calculations="1, Red | 2, Green",
    ),
    field("pets", "intake", "checkbox", "Pets", select_choices_or_calculations="1, Cat | 2, Dog"),
    field(
        "country",
        "intake",
        "dropdown",
        "Country",
        select_choices_or_calculations="fr, France | ca, Canada",
    ),
    field("smoker", "intake", "yesno", "Do you smoke?"),
    field(
        "cigarettes",
        "intake",
        label="Cigarettes a day",
        text_validation_type_or_show_slider_number="integer",
        required_field="y",
        branching_logic="[smoker] = '1'",
    ),
    field("agree", "intake", "truefalse", "I agree"),
    field(
        "staff_question",
        "intake",
        label="Question for records staff flagged",
        branching_logic="[staff_note] <> ''",
    ),
    field("story", "intake", "notes", HOSTILE),
    field(
        "double_age", "intake", "calc", "Twice the age", select_choices_or_calculations="[age]*2"
    ),
    field("info", "intake", "descriptive", "Thank you for <i>helping</i>"),
    field(
        "dog_name",
        "intake",
        label="Your dog's name",
        section_header="Your dog",
        branching_logic="[pets(2)] = '1' and [record-name] <> ''",
    ),
    field("staff_note", "staff", label="Staff only"),
]


def cli(server: LiveServer, *args: str) -> str:
    """Run a `localcap` command against the test server's database."""
    db = []
    if server.backend == "postgresql":
        db = ["--database-url", server.engine.url.render_as_string(hide_password=False)]
    result = CliRunner().invoke(main, [*args, "--data-dir", str(server.data_dir), *db])
    assert result.exit_code == 0, result.output
    return result.output


def project_id(api: Api) -> int:
    return int(api.json(content="project")["project_id"])


def survey_project(server: LiveServer, *options: str) -> Api:
    """A classic project whose `intake` instrument is a survey; records 1 and 2 exist."""
    api = create_project(server, "Survey test")
    api.import_json("metadata", SURVEY_DICTIONARY)
    api.import_json("record", [{"record_id": "1"}, {"record_id": "2", "staff_note": "x"}])
    enable_survey(api, "intake", "--title", "Intake <survey>", *options)
    return api


def enable_survey(api: Api, instrument: str, *options: str) -> None:
    """Make an instrument a survey with the real CLI (`localcap survey enable`)."""
    project = str(project_id(api))
    cli(api.server, "survey", "enable", "--project", project, "--instrument", instrument, *options)


def user_token(server: LiveServer, api: Api, username: str, **rights: int) -> Api:
    api.import_json("user", [{"username": username, **rights}])
    pid = project_id(api)
    with server.engine.begin() as conn:  # no request inside: this holds the write lock
        token = create_project_token(conn, pid, username)
    return Api(server, token)


def long_project(server: LiveServer) -> Api:
    """PyCap's integration-test project, as exported from a real REDCap (surveys included)."""
    return create_from_fixture(server, "pycap_test_long_project.xml", "PyCap long")


def surveys_url(server: LiveServer) -> str:
    return server.url.removesuffix("api/") + "surveys/"


def csrf_of(html: str) -> str:
    """The form token of a survey page ("" when the page has no form)."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    return found.group(1) if found else ""


def hidden_of(html: str, name: str) -> str:
    """A hidden input's value on a survey page."""
    found = re.search(rf'type="hidden" name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} on the page"
    return found.group(1)


def open_form(link: str) -> tuple[requests.Session, requests.Response, str]:
    """A new browser session opening a survey link: the session, the page, its form token."""
    session = requests.Session()
    page = session.get(link, timeout=30)
    return session, page, csrf_of(page.text)


def post_page(
    session: requests.Session, link: str, page: requests.Response, **answers: object
) -> requests.Response:
    """Post answers with the page's form token and its hidden fields, as a browser would."""
    data: dict[str, object] = {"csrf": csrf_of(page.text)}
    for name in ("was_hidden", "return_code"):
        if f'type="hidden" name="{name}"' in page.text:
            data[name] = hidden_of(page.text, name)
    data.update(answers)
    return session.post(link, data=data, timeout=30)


def record(api: Api, record_id: str = "1") -> dict[str, str]:
    """The record's row (classic project) with its survey fields."""
    return api.json(content="record", records=record_id, exportSurveyFields="true")[0]


def link_for(api: Api, record_id: str = "1") -> str:
    """The record's link to the intake survey (API: surveyLink)."""
    return api.ok(content="surveyLink", record=record_id, instrument="intake").text


def save_for_later(link: str, **answers: object) -> requests.Response:
    """Open the link, answer part of the survey and press Save & Return Later."""
    session, page, _ = open_form(link)
    assert "Save &amp; Return Later" in page.text
    return post_page(session, link, page, save_return="1", **answers)
