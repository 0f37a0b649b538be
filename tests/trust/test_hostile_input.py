"""Hostile input to every method: oversized, nested, non-UTF-8, NUL and lone-surrogate values
are REDCap-style 400s (or a normal answer), never a 500, and are stored the same way (or not
at all) on SQLite and PostgreSQL. Regression tests for issue 14 items 11-15 first, then the
sweep over every parameter of every method."""

from __future__ import annotations

import json

import pytest

from builders import Api, clinical_longitudinal, field, user_api

SURROGATE = '"a\\ud800b"'  # a lone UTF-16 surrogate, as JSON text


@pytest.fixture(scope="module")
def project(server) -> Api:
    api = clinical_longitudinal(server)
    api.import_json(
        "record",
        [{"record_id": "1", "redcap_event_name": "baseline_arm_1", "first_name": "Ann"}],
    )
    return api


def records(api: Api) -> list[str]:
    return sorted({row["record_id"] for row in api.json(content="record", fields="record_id")})


def raw_import(api: Api, content: str, data: str, fmt: str = "json", **params: str):
    return api.call(content=content, action="import", format=fmt, data=data, **params)


def assert_400(response, *words: str) -> None:
    assert response.status_code == 400, response.text
    message = response.json()["error"] if response.text.startswith("{") else response.text
    for word in words:
        assert word in message, message


# --- item 11: XML nested 50,000 deep ------------------------------------------------------


def test_deeply_nested_xml_import_is_a_400(project):
    depth = 50_000
    data = (
        "<records><item><record_id>"
        + "<a>" * depth
        + "x"
        + "</a>" * depth
        + "</record_id></item></records>"
    )
    response = raw_import(project, "record", data, fmt="xml", returnFormat="json")
    assert_400(response, "nested too deeply")
    # the users import keeps its one allowed level: <forms><form>level</form></forms>
    response = raw_import(
        project,
        "user",
        "<users><item><username>xml_user</username><forms><demographics>1</demographics>"
        "</forms></item></users>",
        fmt="xml",
        returnFormat="json",
    )
    assert response.status_code == 200, response.text


# --- item 12: a lone surrogate in JSON ----------------------------------------------------


@pytest.mark.parametrize(
    "content,row",
    [
        ("record", '{"record_id": "2", "redcap_event_name": "baseline_arm_1", "first_name": %s}'),
        ("record", '{"record_id": %s, "redcap_event_name": "baseline_arm_1"}'),
        ("dag", '{"data_access_group_name": %s, "unique_group_name": ""}'),
        ("user", '{"username": %s}'),
        ("arm", '{"arm_num": 3, "name": %s}'),
    ],
)
def test_lone_surrogate_in_json_is_a_400(project, content, row):
    response = raw_import(project, content, "[" + row % SURROGATE + "]", returnFormat="json")
    assert_400(response, "surrogate")
    assert records(project) == ["1"]


# --- item 13: lengths and NUL characters, the same on both backends ------------------------


def test_record_name_over_255_characters_is_a_400(project):
    for fmt, data in [
        ("json", json.dumps([{"record_id": "7" * 256, "redcap_event_name": "baseline_arm_1"}])),
        ("csv", "record_id,redcap_event_name\n" + "7" * 300 + ",baseline_arm_1\n"),
    ]:
        response = raw_import(project, "record", data, fmt=fmt, returnFormat="json")
        assert_400(response, "longer than 255 characters")
    ok = [{"record_id": "8" * 255, "redcap_event_name": "baseline_arm_1"}]
    assert project.import_json("record", ok)["count"] == 1
    response = project.call(
        content="record",
        action="rename",
        record="8" * 255,
        new_record_name="9" * 256,
        returnFormat="json",
    )
    assert_400(response, "longer than 255 characters")
    project.ok(content="record", action="delete", **{"records[0]": "8" * 255})
    assert records(project) == ["1"]


@pytest.mark.parametrize(
    "fmt,data",
    [
        ("json", json.dumps([{"record_id": "9101", "notes": "x\u0000y"}])),
        ("csv", "record_id,redcap_event_name\n9102\x00,baseline_arm_1\n"),
        ("json", json.dumps([{"record_id": "91\u000003"}])),
    ],
)
def test_nul_in_import_data_is_a_400(project, fmt, data):
    response = raw_import(project, "record", data, fmt=fmt, returnFormat="json")
    assert_400(response, "NUL character")
    assert records(project) == ["1"]


def test_over_long_metadata_names_are_a_400(server):
    api = clinical_longitudinal(server)
    before = api.json(content="metadata")
    dictionary = [
        field("record_id", "f" * 300),
        field("v" * 101, "f" * 300),
        field("ok", "form_two", custom_alignment="LV" * 10),
    ]
    response = raw_import(api, "metadata", json.dumps(dictionary), returnFormat="json")
    assert_400(
        response,
        "form_name is longer than 100 characters",
        "field_name is longer than 100 characters",
        "custom_alignment is longer than 10 characters",
    )
    assert api.json(content="metadata") == before


# --- item 14: a 5,000-digit record name --------------------------------------------------


def test_huge_numeric_record_name_does_not_break_auto_numbering(server):
    api = clinical_longitudinal(server)
    api.import_json("record", [{"record_id": "41", "redcap_event_name": "baseline_arm_1"}])
    # 255 digits: the longest name stored; far beyond int64 (and 5,000 would be refused)
    huge = "9" * 255
    api.import_json("record", [{"record_id": huge, "redcap_event_name": "baseline_arm_1"}])
    api.import_json("record", [{"record_id": "²", "redcap_event_name": "baseline_arm_1"}])
    assert api.ok(content="generateNextRecordName").text == "42"
    answer = api.json(
        content="record",
        action="import",
        data=[{"record_id": "new", "redcap_event_name": "baseline_arm_1"}],
        forceAutoNumber="true",
        returnContent="auto_ids",
    )
    assert answer == [{"id": "42", "record_id": "new"}] or answer == ["42,new"], answer
    dag_api = clinical_longitudinal(server)
    dag_api.import_json("dag", [{"data_access_group_name": "Site", "unique_group_name": ""}])
    [dag] = dag_api.json(content="dag")
    dag_api.import_json(
        "record",
        [
            {
                "record_id": f"{dag['data_access_group_id']}-" + "9" * 200,
                "redcap_event_name": "baseline_arm_1",
                "redcap_data_access_group": "site",
            }
        ],
    )
    in_dag = user_api(dag_api, "site_user")
    dag_api.import_json(
        "userDagMapping", [{"username": "site_user", "redcap_data_access_group": "site"}]
    )
    assert in_dag.ok(content="generateNextRecordName").text == f"{dag['data_access_group_id']}-1"


# --- item 15: nested JSON values ---------------------------------------------------------


@pytest.mark.parametrize(
    "content,row,params",
    [
        ("record", {"record_id": {"a": 1}, "redcap_event_name": "baseline_arm_1"}, {}),
        ("record", {"record_id": "5", "redcap_event_name": "baseline_arm_1", "notes": [1, 2]}, {}),
        ("user", {"username": {"a": 1}}, {}),
        ("user", {"username": "nested_rights", "forms": [1, 2]}, {}),
        ("user", {"username": "nested_rights", "forms": {"demographics": {"a": 1}}}, {}),
        ("dag", {"data_access_group_name": [], "unique_group_name": ""}, {}),
        ("userRole", {"role_label": {"x": "y"}}, {}),
        ("arm", {"arm_num": [1], "name": "x"}, {}),
        ("event", {"event_name": {"a": 1}, "arm_num": 1}, {}),
        ("formEventMapping", {"arm_num": 1, "unique_event_name": ["a"], "form": "visit"}, {}),
        ("repeatingFormsEvents", {"event_name": "baseline_arm_1", "form_name": {}}, {}),
        ("userDagMapping", {"username": ["x"], "redcap_data_access_group": ""}, {}),
        ("userRoleMapping", {"username": ["x"], "unique_role_name": ""}, {}),
        ("metadata", {"field_name": {"a": 1}, "form_name": "f", "field_type": "text"}, {}),
        ("project_settings", {"project_title": {"a": 1}}, {}),
    ],
)
def test_nested_json_values_are_a_400(project, content, row, params):
    before = project.call(content=content, format="json").text
    response = raw_import(project, content, json.dumps([row]), returnFormat="json", **params)
    assert_400(
        response,
        "objects and lists cannot be imported"
        if "forms" not in str(row) or isinstance(row.get("forms"), list)
        else "plain values",
    )
    assert project.call(content=content, format="json").text == before
    assert records(project) == ["1"]


# --- the sweep: every parameter of every method, every hostile value -----------------------

#: One of each kind of hostile value, as a form field carries it (bytes: sent as they are).
HOSTILE_PARAM_VALUES: dict[str, bytes] = {
    "oversized": b"9" * 10_000,
    "nul": b"1%00x",
    "non_utf8": b"%ff%fe%C0%AF",
    "surrogate_utf8": b"%ED%A0%80",  # a lone surrogate written in UTF-8 (invalid UTF-8)
    "json_nested": b"%7B%22a%22%3A%5B1%2C%7B%7D%5D%7D",  # {"a":[1,{}]}
    "huge_int": b"1" + b"0" * 5000,
    "unicode_digits": b"%C2%B2%D9%A3",  # "²٣": str.isdigit() says yes, int() says no
}
#: Nested names too: PHP's ``a[b][c]`` and an index beyond any integer.
HOSTILE_NAMES = ["{name}[a][b]", "{name}[99999999999999999999999]"]
#: And inside ``data``: each column of a row replaced by these, in JSON.
HOSTILE_JSON_VALUES = {
    "nested": {"a": [1, {}]},
    "list": [1, 2],
    "nul": "x\u0000y",
    "surrogate": "SURROGATE",
    "oversized": "9" * 20_000,
    "huge_int": int("1" + "0" * 400),
    "huge_float": 1e308,
}
#: A row of each import's columns (their names, with plausible values).
IMPORT_ROWS: dict[str, dict[str, object]] = {
    "record": {"record_id": "1", "redcap_event_name": "baseline_arm_1", "first_name": "A"},
    "metadata": {"field_name": "record_id", "form_name": "demographics", "field_type": "text"},
    "arm": {"arm_num": 1, "name": "Drug"},
    "event": {"event_name": "Baseline", "arm_num": 1, "unique_event_name": "baseline_arm_1"},
    "formEventMapping": {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "visit"},
    "repeatingFormsEvents": {"event_name": "baseline_arm_1", "form_name": "adverse_events"},
    "dag": {"data_access_group_name": "Site", "unique_group_name": ""},
    "userDagMapping": {"username": "sweeper", "redcap_data_access_group": ""},
    "user": {"username": "sweeper", "forms": {"demographics": 1}, "expiration": ""},
    "userRole": {"role_label": "R", "unique_role_name": "", "forms": {"visit": 1}},
    "userRoleMapping": {"username": "sweeper", "unique_role_name": ""},
    "project_settings": {"project_title": "T", "is_longitudinal": 1},
    "report": {"title": "r", "fields": ["record_id"]},
}


def _parameter_names() -> list[str]:
    from trust.test_fuzz import PARAMS

    return sorted(set(PARAMS) | {"folder_id", "doc_id", "new_record_name", "dag", "roles"})


def _send_all(url: str, bodies: list[tuple[str, bytes]], clients: int = 4) -> list[str]:
    """Post every body (``clients`` at once); the 5xx answers and tracebacks, described."""
    import concurrent.futures
    import threading

    import requests

    local = threading.local()

    def send(item: tuple[str, bytes]) -> str | None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        label, body = item
        response = local.session.post(
            url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=60,
        )
        if response.status_code >= 500 and response.status_code != 501:
            return f"{label}: {response.status_code} {response.text[:200]}"
        if "Traceback" in response.text:
            return f"{label}: a traceback"
        return None

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return [problem for problem in pool.map(send, bodies) if problem]


def test_every_parameter_of_every_method_with_hostile_values(server):
    """Each (content, action) with every parameter (plain, as arrays, nested) set to each
    hostile value at once; then each parameter alone with 5,001 digits (the integer
    conversions). A REDCap-style answer each time, never a 5xx."""
    from localcap.api.routes import ROUTES

    api = clinical_longitudinal(server)
    api.import_json(
        "record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1", "first_name": "A"}]
    )
    names = _parameter_names()
    bodies: list[tuple[str, bytes]] = []
    for content, action in sorted(ROUTES):
        base = b"token=%s&content=%s&action=%s&returnFormat=json" % (
            api.token.encode(),
            content.encode(),
            action.encode(),
        )
        for kind, value in HOSTILE_PARAM_VALUES.items():
            params = [b"%s=%s" % (n.encode(), value) for n in names if n != "content"]
            params += [b"%s[0]=%s" % (n.encode(), value) for n in names]
            params += [
                p.format(name=n).encode() + b"=" + value for n in names for p in HOSTILE_NAMES
            ]
            bodies.append((f"{content}/{action} all={kind}", base + b"&" + b"&".join(params)))
        for name in names:
            if name not in ("content", "action", "returnFormat"):
                value = HOSTILE_PARAM_VALUES["huge_int"]
                bodies.append(
                    (
                        f"{content}/{action} {name}=huge_int",
                        base + b"&%s=%s" % (name.encode(), value),
                    )
                )
    failures = _send_all(api.url, bodies)
    print(f"\nparameter sweep: {len(bodies)} requests, {len(failures)} problems")
    assert not failures, "\n".join(failures[:20])


def test_every_import_column_with_hostile_json_values(server):
    """Each import, each column of a plausible row, each hostile JSON value (and, as CSV,
    each hostile text): a 400 or a 200, never a 5xx."""
    from urllib.parse import quote_from_bytes

    api = clinical_longitudinal(server)
    user_api(api, "sweeper")
    bodies: list[tuple[str, bytes]] = []
    for content, row in IMPORT_ROWS.items():
        base = b"token=%s&content=%s&action=import&returnFormat=json" % (
            api.token.encode(),
            content.encode(),
        )
        for column in row:
            for kind, value in HOSTILE_JSON_VALUES.items():
                data = json.dumps([{**row, column: value}]).replace('"SURROGATE"', SURROGATE)
                encoded = quote_from_bytes(data.encode()).encode()
                bodies.append(
                    (f"{content} {column}={kind} json", base + b"&format=json&data=" + encoded)
                )
                if isinstance(value, str) and value != "SURROGATE":
                    cells = [value if c == column else str(v) for c, v in row.items()]
                    text = ",".join(row) + "\n" + ",".join(f'"{c}"' for c in cells) + "\n"
                    encoded = quote_from_bytes(text.encode()).encode()
                    bodies.append(
                        (f"{content} {column}={kind} csv", base + b"&format=csv&data=" + encoded)
                    )
    # one client: design imports racing each other are the concurrency suite's subject
    failures = _send_all(api.url, bodies, clients=1)
    print(f"\nimport sweep: {len(bodies)} requests, {len(failures)} problems")
    assert not failures, "\n".join(failures[:20])


def test_survey_pages_with_hostile_values(server):
    """The token-less surface: every input of a survey page (and the access-code form) set to
    each hostile value at once, then one by one with 5,001 digits; a page, never a 5xx."""
    import re

    import requests

    from surveys.survey_helpers import survey_project, surveys_url

    api = survey_project(server)
    link = api.ok(content="surveyLink", record="1", instrument="intake").text
    session = requests.Session()
    page = session.get(link, timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text[:300]
    names = sorted(set(re.findall(r'name="([^"]+)"', page.text)) - {"csrf"})
    assert len(names) > 2, names
    problems = []

    def post(url: str, body: bytes, label: str) -> None:
        response = session.post(
            url,
            data=b"csrf=" + csrf.group(1).encode() + b"&" + body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=60,
        )
        if response.status_code >= 500 or "Traceback" in response.text:
            problems.append(f"{label}: {response.status_code} {response.text[:200]}")

    for kind, value in HOSTILE_PARAM_VALUES.items():
        fields = [b"%s=%s" % (n.encode(), value) for n in names]
        fields += [p.format(name=n).encode() + b"=" + value for n in names for p in HOSTILE_NAMES]
        post(link, b"&".join(fields), f"all={kind}")
        post(surveys_url(server), b"code=" + value, f"code={kind}")
    for name in names:
        post(link, b"%s=%s" % (name.encode(), HOSTILE_PARAM_VALUES["huge_int"]), name)
    assert not problems, "\n".join(problems[:20])
