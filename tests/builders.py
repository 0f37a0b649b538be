"""Helpers that set projects up through the real API, as a client script would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import requests

from liveserver import LiveServer
from localcap.db.tokens import create_project_token


@dataclass
class Api:
    """A project token and the server: ``api.call(content=..., ...)`` posts a request."""

    server: LiveServer
    token: str

    @property
    def url(self) -> str:
        return self.server.url

    def call(self, **params: Any) -> requests.Response:
        files = params.pop("files", None)
        data = {"token": self.token}
        for key, value in params.items():
            if isinstance(value, (list, dict)) and key == "data":
                data[key] = json.dumps(value)
            else:
                data[key] = value
        return requests.post(self.server.url, data=data, files=files, timeout=60)

    def ok(self, **params: Any) -> requests.Response:
        response = self.call(**params)
        assert response.status_code == 200, response.text
        return response

    def json(self, **params: Any) -> Any:
        return self.ok(format="json", **params).json()

    def import_json(self, content: str, rows: Any, **params: Any) -> Any:
        return self.json(content=content, action="import", data=rows, **params)


def project_id(api: Api) -> int:
    return int(api.json(content="project")["project_id"])


def user_api(api: Api, username: str, **rights: Any) -> Api:
    """A project user with the given rights and a fresh token of theirs."""
    row = {"username": username, "api_export": 1, "api_import": 1, "record_create": 1}
    row.update(rights)
    assert api.import_json("user", [row]) == 1
    pid = project_id(api)
    # No request inside a transaction: on SQLite it holds the database's write lock, which
    # the server's answer to that request would wait for.
    with api.server.engine.begin() as conn:
        token = create_project_token(conn, pid, username)
    return Api(api.server, token)


def create_project(server: LiveServer, title: str = "Test", longitudinal: bool = False) -> Api:
    data = [{"project_title": title, "purpose": 0, "is_longitudinal": int(longitudinal)}]
    response = requests.post(
        server.url,
        data={
            "token": server.super_token,
            "content": "project",
            "format": "json",
            "data": json.dumps(data),
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return Api(server, response.text)


def field(
    name: str, form: str, ftype: str = "text", label: str = "", **extra: str
) -> dict[str, str]:
    row = {"field_name": name, "form_name": form, "field_type": ftype, "field_label": label or name}
    row.update(extra)
    return row


#: A small but complete dictionary: identifiers, validations, choices, checkbox, file, calc.
CLINICAL_DICTIONARY = [
    field("record_id", "demographics", label="Record ID"),
    field("first_name", "demographics", label="First name", identifier="y"),
    field(
        "dob",
        "demographics",
        label="Date of birth",
        text_validation_type_or_show_slider_number="date_ymd",
        identifier="y",
    ),
    field(
        "email", "demographics", label="Email", text_validation_type_or_show_slider_number="email"
    ),
    field(
        "sex", "demographics", "radio", "Sex", select_choices_or_calculations="0, Female | 1, Male"
    ),
    field(
        "race",
        "demographics",
        "checkbox",
        "Race",
        select_choices_or_calculations="1, White | 2, Black | 3, Asian | 98, Other",
    ),
    field("consent", "demographics", "yesno", "Consented?"),
    field("notes", "demographics", "notes", "Notes"),
    field(
        "weight", "visit", label="Weight (kg)", text_validation_type_or_show_slider_number="number"
    ),
    field(
        "height", "visit", label="Height (m)", text_validation_type_or_show_slider_number="number"
    ),
    field("bmi", "visit", "calc", "BMI", select_choices_or_calculations="[weight]/([height]^2)"),
    field("visit_ok", "visit", "truefalse", "Visit done"),
    field("scan", "visit", "file", "Scan"),
    field(
        "signature",
        "visit",
        "file",
        "Signature",
        text_validation_type_or_show_slider_number="signature",
    ),
    field("ae_term", "adverse_events", label="AE term"),
    field(
        "ae_grade",
        "adverse_events",
        "dropdown",
        "Grade",
        select_choices_or_calculations="1, Mild | 2, Moderate | 3, Severe",
    ),
]


def clinical_classic(server: LiveServer, repeating: bool = True) -> Api:
    """A classic project with the clinical dictionary; adverse_events repeats."""
    api = create_project(server, "Classic clinical")
    assert api.import_json("metadata", CLINICAL_DICTIONARY) == len(CLINICAL_DICTIONARY)
    if repeating:
        api.import_json(
            "repeatingFormsEvents", [{"form_name": "adverse_events", "custom_form_label": ""}]
        )
    return api


def clinical_longitudinal(server: LiveServer) -> Api:
    """Two arms; baseline (demographics+visit), visit_2 repeating as an event, AEs repeating."""
    api = create_project(server, "Longitudinal clinical", longitudinal=True)
    api.import_json("metadata", CLINICAL_DICTIONARY)
    api.import_json("arm", [{"arm_num": 1, "name": "Drug"}, {"arm_num": 2, "name": "Placebo"}])
    api.import_json(
        "event",
        [
            {"event_name": "Baseline", "arm_num": 1},
            {"event_name": "Visit 2", "arm_num": 1},
            {"event_name": "Baseline", "arm_num": 2},
        ],
        override=1,
    )
    api.import_json(
        "formEventMapping",
        [
            {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "demographics"},
            {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "visit"},
            {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "adverse_events"},
            {"arm_num": 1, "unique_event_name": "visit_2_arm_1", "form": "visit"},
            {"arm_num": 2, "unique_event_name": "baseline_arm_2", "form": "demographics"},
            {"arm_num": 2, "unique_event_name": "baseline_arm_2", "form": "visit"},
        ],
    )
    api.import_json(
        "repeatingFormsEvents",
        [
            {
                "event_name": "baseline_arm_1",
                "form_name": "adverse_events",
                "custom_form_label": "",
            },
            {"event_name": "visit_2_arm_1", "form_name": "", "custom_form_label": ""},
        ],
    )
    return api
