"""Survey projects for the tests: a dictionary with every question type, enabled as a survey
with the real CLI (`localcap survey enable`), and a long project from PyCap's REDCap XML."""

from __future__ import annotations

import json

import requests
from click.testing import CliRunner

from builders import Api, create_project, field
from liveserver import REDCAP_PROJECTS, LiveServer
from localcap.cli import main
from localcap.db.tokens import create_project_token

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
    field("agree", "intake", "truefalse", "I agree"),
    field("story", "intake", "notes", HOSTILE),
    field(
        "double_age", "intake", "calc", "Twice the age", select_choices_or_calculations="[age]*2"
    ),
    field("info", "intake", "descriptive", "Thank you for <i>helping</i>"),
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
    with server.engine.begin() as conn:
        token = create_project_token(conn, project_id(api), username)
    return Api(server, token)


def long_project(server: LiveServer) -> Api:
    """PyCap's integration-test project, as exported from a real REDCap (surveys included)."""
    xml = (REDCAP_PROJECTS / "pycap_test_long_project.xml").read_text()
    response = requests.post(
        server.url,
        data={
            "token": server.super_token,
            "content": "project",
            "format": "json",
            "data": json.dumps([{"project_title": "PyCap long", "purpose": 0}]),
            "odm": xml,
        },
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return Api(server, response.text)


def surveys_url(server: LiveServer) -> str:
    return server.url.removesuffix("api/") + "surveys/"
