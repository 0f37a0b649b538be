"""A streamed Import Records (a ``data`` value over the in-memory size) does what the
whole-body import does, row for row and error for error.

The in-memory size is lowered so that small bodies take the streamed path; each body is
imported twice, once each way, into two projects built alike, and the answers and the
exported records must be the same. The bodies cover what the streamed CSV path reads by
position rather than by name: events, repeating instruments and events, DAG assignment,
checkboxes, blanks, values that fail their checks, and a column named twice.
"""

from __future__ import annotations

import csv
import io

import pytest

from builders import Api, clinical_longitudinal
from localcap.actions import import_records
from localcap.api import request

HEADER = [
    "record_id",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "redcap_data_access_group",
    "first_name",
    "dob",
    "sex",
    "race___1",
    "race___98",
    "weight",
    "height",
    "ae_term",
    "ae_grade",
]


def text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


GOOD = [
    [
        "1",
        "baseline_arm_1",
        "",
        "",
        "site_a",
        "Ann",
        "1980-02-29",
        "0",
        "1",
        "0",
        "70",
        "1.7",
        "",
        "",
    ],
    ["1", "baseline_arm_1", "adverse_events", "1", "", "", "", "", "", "", "", "", "rash", "2"],
    ["1", "baseline_arm_1", "adverse_events", "new", "", "", "", "", "", "", "", "", "cold", "1"],
    ["1", "visit_2_arm_1", "", "1", "", "", "", "", "", "", "71", "1.7", "", ""],
    ["1", "visit_2_arm_1", "", "2", "", "", "", "", "", "", "72", "", "", ""],
    ["2", "baseline_arm_2", "", "", "site_b", "Bo", "", "1", "0", "1", "", "", "", ""],
    ["3", "", "", "", "", "Cy", "2001-12-31", "", "", "", "80.5", "1.8", "", ""],
    ["Café 4", "baseline_arm_1", "", "", "", "Dée", "", "", "1", "1", "", "", "", ""],
]
BAD = [
    ["5", "baseline_arm_1", "", "", "", "Ed", "1980-13-01", "7", "2", "0", "heavy", "", "", ""],
    ["6", "no_such_event", "", "", "", "Flo", "", "", "", "", "", "", "", ""],
    ["7", "baseline_arm_1", "adverse_events", "x", "", "", "", "", "", "", "", "", "t", "9"],
    ["8", "baseline_arm_2", "", "", "no_such_dag", "Gus", "", "", "", "", "", "", "", ""],
    ["9", "baseline_arm_2", "", "", "", "", "", "", "", "", "", "", "ae on arm 2", ""],
    ["", "baseline_arm_1", "", "", "", "Hal", "", "", "", "", "", "", "", ""],
]


def project(server) -> Api:
    api = clinical_longitudinal(server)
    for name in ("Site A", "Site B"):
        api.import_json("dag", [{"data_access_group_name": name, "unique_group_name": ""}])
    return api


def counted_streams(monkeypatch) -> list[int]:
    """A list whose one item counts the streamed imports made from now on."""
    count = [0]
    stream = import_records.import_stream

    def counting(*args, **kwargs):
        count[0] += 1
        return stream(*args, **kwargs)

    monkeypatch.setattr(import_records, "import_stream", counting)
    return count


def outcome(api: Api, body: str, **params: str) -> tuple[int, str, list]:
    answer = api.call(content="record", format="csv", data=body, **params)
    records = api.json(content="record", exportDataAccessGroups="true")
    return answer.status_code, answer.text, records


@pytest.mark.parametrize(
    ("body", "params"),
    [
        (text(GOOD), {}),
        (text(GOOD), {"returnContent": "ids"}),
        (text(GOOD), {"forceAutoNumber": "true", "returnContent": "auto_ids"}),
        (text(GOOD + BAD), {}),
        (text(GOOD[:3] + BAD[:1]), {"returnFormat": "json"}),
        (text([[*row, "x"] for row in GOOD], [*HEADER, "no_such_field"]), {}),
        (text([[*row, row[5]] for row in GOOD], [*HEADER, "first_name"]), {}),  # named twice
        (text([row[:6] for row in GOOD], HEADER[:6]), {}),
    ],
)
def test_the_streamed_path_answers_and_writes_as_the_whole_body_path(
    server, monkeypatch, body, params
):
    whole = outcome(project(server), body, **params)
    monkeypatch.setattr(request, "BODY_IN_MEMORY", 64)  # every body here is bigger
    streams = counted_streams(monkeypatch)
    streamed = outcome(project(server), body, **params)
    assert streams == [1]  # (the body did take the streamed path)
    assert streamed == whole
    assert whole[0] == 200 or whole[2] == []  # (a refused body writes nothing)


def test_overwrite_blanks_and_repeats_on_existing_records(server, monkeypatch):
    """A second import over stored rows: merged the same way on both paths."""
    second = [
        ["1", "baseline_arm_1", "", "", "", "", "", "1", "0", "1", "", "", "", ""],
        ["1", "visit_2_arm_1", "", "2", "", "", "", "", "", "", "", "1.9", "", ""],
        ["2", "baseline_arm_2", "", "", "site_a", "", "", "", "", "", "", "", "", ""],
    ]
    results = []
    for threshold in (request.BODY_IN_MEMORY, 64):
        monkeypatch.setattr(request, "BODY_IN_MEMORY", threshold)
        api = project(server)
        assert outcome(api, text(GOOD))[0] == 200
        results.append(
            [outcome(api, text(second), overwriteBehavior=how) for how in ("normal", "overwrite")]
        )
    assert results[0] == results[1]
