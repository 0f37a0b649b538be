"""Fuzzing the running server: 100,000 generated requests, zero 5xx, zero tracebacks.

Random contents, actions, formats, parameters (known names with hostile values, unknown
names, arrays; the parameters of the newer methods too, on a project with a survey, a File
Repository folder and file, a role and a DAG), bodies (urlencoded, multipart with odd parts and files, raw bytes, wrong
charsets), against a project with data, with valid, super, malformed and unknown tokens.
Every answer must be a valid answer or a REDCap-style error in the format asked for. The count
is printed. LOCALCAP_FUZZ_REQUESTS changes it (CI runs the full 100,000 on SQLite; the
PostgreSQL run sends a tenth).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time

import requests

from builders import clinical_longitudinal
from localcap.api.routes import ROUTES
from surveys.survey_helpers import enable_survey

TOTAL = int(os.environ.get("LOCALCAP_FUZZ_REQUESTS", "100000"))
THREADS = 4
PARAMS = [
    "content",
    "action",
    "format",
    "returnFormat",
    "type",
    "data",
    "records",
    "fields",
    "forms",
    "events",
    "arms",
    "dags",
    "users",
    "record",
    "field",
    "event",
    "repeat_instance",
    "report_id",
    "rawOrLabel",
    "rawOrLabelHeaders",
    "exportCheckboxLabel",
    "csvDelimiter",
    "decimalCharacter",
    "filterLogic",
    "overwriteBehavior",
    "forceAutoNumber",
    "returnContent",
    "dateFormat",
    "override",
    "odm",
    "logtype",
    "beginTime",
    "endTime",
    "instrument",
    "exportFiles",
    "returnMetadataOnly",
    "exportDataAccessGroups",
    "exportSurveyFields",
    # the newer methods: File Repository, roles, DAG switch, surveys, PDF, EAV
    "folder_id",
    "doc_id",
    "dag_id",
    "role_id",
    "name",
    "roles",
    "dag",
    "allRecords",
    "compactDisplay",
    "new_record_name",
]
NASTY = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "99999999999999999999",
    "true",
    "False",
    "json",
    "csv",
    "xml",
    "odm",
    "flat",
    "eav",
    "label",
    "raw",
    "tab",
    ",",
    "'",
    '"',
    "\\",
    "\x00",
    "%00",
    "\r\n",
    "[record_id] = 1",
    "[nope] = (",
    "datediff([dob],'today','y') > 18 and",
    "<records><item><record_id>1</record_id></item></records>",
    "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    '[{"record_id": "1", "sex": "1"}]',
    '[{"record_id": "1", "nope": "1"}]',
    "[",
    "{}",
    "null",
    "record_id,sex\n1,1\n",
    "record_id\n" + "x" * 300,
    "🙂" * 50,
    "é",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "baseline_arm_1",
    "visit_2_arm_1",
    "adverse_events",
    "demographics",
    "scan",
    "first_name",
    "1,2,3",
    "../../etc/passwd",
    "A" * 5000,
    # issue 14's hostile values: integers Python will not convert, digits int() refuses,
    # nested JSON, a lone surrogate as JSON text, a name past every column width
    "1" + "0" * 5000,
    "²",
    "٣",
    '{"a": [1, {}]}',
    '[{"record_id": {"a": 1}}]',
    '[{"record_id": "1", "first_name": "a\\ud800b"}]',
    '[{"record_id": "1", "first_name": "x\\u0000y"}]',
    "9" * 300,
    "<records><item>" + "<a>" * 2000 + "</a>" * 2000 + "</item></records>",
]


def error_shape_ok(response: requests.Response, fmt: str) -> bool:
    body = response.text
    if response.status_code in (404, 501):
        return True
    if fmt in ("json", "any"):
        try:
            if "error" in response.json():
                return True
        except ValueError:
            pass
        if fmt == "json":
            return False
    if fmt in ("csv", "any") and body.startswith("ERROR: "):
        return True
    return fmt in ("xml", "any") and "<error>" in body


def one_request(
    rng: random.Random,
    session: requests.Session,
    url: str,
    tokens: list[str],
    contents: list[str],
    actions: list[str],
) -> tuple[requests.Response, str]:
    token = rng.choice(tokens)
    params: dict[str, str] = {}
    if rng.random() < 0.97:
        params["token"] = token
    params["content"] = rng.choice(contents) if rng.random() < 0.9 else rng.choice(NASTY)
    if rng.random() < 0.8:
        params["action"] = rng.choice(actions)
    for name in rng.sample(PARAMS, rng.randint(0, 6)):
        if (
            name in ("records", "fields", "forms", "events", "arms", "dags", "users", "roles")
            and rng.random() < 0.5
        ):
            for i in range(rng.randint(1, 3)):
                params[f"{name}[{i}]"] = rng.choice(NASTY)
        else:
            params[name] = rng.choice(NASTY)
    if rng.random() < 0.05:
        params[rng.choice(NASTY)[:20] or "x"] = rng.choice(NASTY)
    return_format = (params.get("returnFormat") or params.get("format") or "xml").strip().lower()
    fmt = return_format if return_format in ("json", "csv") else "xml"
    kind = rng.random()
    if kind < 0.6:
        response = session.post(url, data=params, timeout=30)
    elif kind < 0.85:
        files = {k: (None, v) for k, v in params.items()}
        if rng.random() < 0.5:
            files["file"] = (
                rng.choice(["a.txt", "", "x\r\ny.bin", "é.png"]),
                rng.randbytes(rng.randint(0, 2000)),
            )
        response = session.post(url, files=files, timeout=30)
    elif kind < 0.95:
        raw = "&".join(f"{k}={v}" for k, v in params.items()).encode("utf-8", "replace")
        if rng.random() < 0.5:
            raw = raw + rng.randbytes(rng.randint(0, 64))
        fmt = "any"  # raw bytes can garble the format parameters: any REDCap error shape
        response = session.post(
            url,
            data=raw,
            timeout=30,
            headers={
                "content-type": rng.choice(
                    [
                        "application/x-www-form-urlencoded",
                        "application/x-www-form-urlencoded; charset=latin-1",
                        "multipart/form-data; boundary=zz",
                        "text/plain",
                        "",
                    ]
                )
            },
        )
    else:
        response = session.request(rng.choice(["GET", "PUT", "DELETE", "PATCH"]), url, timeout=30)
    return response, fmt


def test_fuzz_the_running_server(server):
    total = TOTAL if server.backend == "sqlite" else max(1, TOTAL // 10)
    api = clinical_longitudinal(server)
    api.ok(
        content="record",
        format="json",
        data=json.dumps(
            [
                {"record_id": str(i), "redcap_event_name": "baseline_arm_1", "first_name": f"n{i}"}
                for i in range(1, 30)
            ]
        ),
    )
    api.ok(
        content="report",
        action="import",
        format="json",
        data=json.dumps([{"title": "r", "fields": ["record_id", "first_name"]}]),
    )
    # something for the newer methods to find: a survey, a folder with a file, a role, a DAG
    enable_survey(api, "demographics")
    [folder] = api.json(content="fileRepository", action="createFolder", name="f")
    api.ok(
        content="fileRepository",
        action="import",
        folder_id=str(folder["folder_id"]),
        files={"file": ("a", b"a")},
    )
    api.import_json("userRole", [{"role_label": "r"}])
    api.import_json("dag", [{"data_access_group_name": "d", "unique_group_name": ""}])
    tokens = [api.token, server.super_token, "0" * 32, "A" * 64, "nothex", ""]
    contents = sorted({c for c, _ in ROUTES})
    actions = sorted({a for _, a in ROUTES}) + ["", "nonsense"]
    failures: list[str] = []
    sent = [0]
    lock = threading.Lock()

    def worker(seed: int, count: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as session:
            for _ in range(count):
                response, fmt = one_request(rng, session, server.url, tokens, contents, actions)
                with lock:
                    sent[0] += 1
                # REDCap answers any other method than POST with 501 (its installation check
                # looks for that), the one 5xx that is not a failure.
                not_post = response.request.method != "POST"
                problem = (
                    (response.status_code >= 500 and not (not_post and response.status_code == 501))
                    or "Traceback" in response.text
                    or (response.status_code != 200 and not error_shape_ok(response, fmt))
                )
                if problem and len(failures) < 20:
                    failures.append(
                        f"{response.status_code} {response.request.body!r:.300} -> {response.text[:300]}"
                    )

    start = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(seed, total // THREADS + (seed < total % THREADS)))
        for seed in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        f"\nfuzz: {sent[0]} requests in {time.monotonic() - start:.0f}s, {len(failures)} problems"
    )
    assert sent[0] == total
    assert not failures, "\n".join(failures)
    assert api.ok(content="version").text  # still serving
