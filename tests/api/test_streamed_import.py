"""Import Records of a big body (over 1 MB): read, checked and written a batch at a time in one
transaction (issue 17). The rules of a small import hold: all or nothing with every bad value
listed, calculated fields, repeating instances, checkboxes, auto-numbering, the audit log."""

from __future__ import annotations

import csv
import io
import json

import orjson
import requests
from sqlalchemy import select

from builders import clinical_classic, user_api
from localcap.db import schema as t

HEADER = [
    "record_id",
    "first_name",
    "dob",
    "sex",
    "race___1",
    "race___3",
    "notes",
    "weight",
    "height",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
    "ae_term",
]
RECORDS = 2_500  # 2,500 records and 1,250 AE instances: about 1.3 MB of CSV


def rows(bad_last: str | None = None) -> list[list[str]]:
    """Each record's row, and an adverse event (a new instance) for every other one."""
    out = []
    note = "a note, with a comma\nand a second line " + "x" * 450
    for i in range(1, RECORDS + 1):
        out.append(
            [str(i), f"name {i}", "1980-02-29", str(i % 2), "1", str(i % 2), note, "70", "1.75"]
            + ["", "", ""]
        )
        if i % 2 == 0:
            out.append([str(i)] + [""] * 8 + ["adverse_events", "new", f"event of {i}"])
    if bad_last is not None:
        out[-1][2] = bad_last  # the last row (an AE row, made a plain row of its record)
        out[-1][9:12] = ["", "", ""]
    return out


def body(table: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADER, *table])
    text = out.getvalue()
    assert len(text) > 1 << 20  # over the size kept in memory: the streamed path
    return text


def post(api, **params) -> requests.Response:
    return requests.post(api.url, data={"token": api.token, **params}, timeout=120)


def test_a_big_import_is_streamed_and_keeps_the_rules(server):
    api = clinical_classic(server)
    answer = post(api, content="record", format="csv", returnContent="ids", data=body(rows()))
    assert answer.status_code == 200, answer.text[:500]
    assert answer.text.split("\n")[1:4] == ["1", "2", "3"]
    assert len(answer.text.strip().split("\n")) == RECORDS + 1
    exported = api.json(content="record", records="2500,2499")
    by_key = {(r["record_id"], r["redcap_repeat_instance"]): r for r in exported}
    main = by_key[("2500", "")]
    assert main["bmi"] == "22.86" or main["bmi"].startswith("22.8"), main["bmi"]
    assert main["race___1"] == "1" and main["race___3"] == "0"
    assert main["notes"].startswith("a note, with a comma\nand a second line")
    assert main["demographics_complete"] == "0"
    assert by_key[("2500", 1)]["ae_term"] == "event of 2500"
    assert ("2499", 1) not in by_key
    # Every record is logged as created (the changes of one call are stored 500 to a row),
    # its values in field order, the record ID first, a checked option as ``race(1)``.
    created = api.json(content="log", logtype="record_add")
    assert sorted(int(e["record"]) for e in created) == list(range(1, RECORDS + 1))
    (entry,) = [e for e in created if e["record"] == "2500"]
    assert entry["details"].startswith(
        "record_id = '2500', first_name = 'name 2500', dob = '1980-02-29', sex = '0', "
        "race(1) = checked, notes = 'a note, with a comma\\nand a second line xxx"
    ), entry["details"]
    assert entry["details"].endswith(
        "xx', weight = '70', height = '1.75', bmi = '22.857142857143', "
        "demographics_complete = '0', visit_complete = '0'"
    ), entry["details"]
    # (stored as the packed texts the rows were stored as, with the layouts they need)
    with server.engine.connect() as conn:
        stored = conn.execute(select(t.audit_changes.c.change)).scalars().all()
    packed = [orjson.loads(text) for text in stored if text.startswith('{"layouts"')]
    assert sum(len(row["changes"]) for row in packed) >= RECORDS


def test_one_bad_value_in_the_last_row_writes_nothing_and_is_listed(server):
    api = clinical_classic(server)
    table = rows(bad_last="2024-13-45")
    table[0][2] = "yesterday"  # and one in the first row: both are listed
    answer = post(api, content="record", format="csv", returnFormat="json", data=body(table))
    assert answer.status_code == 400, answer.text[:500]
    lines = answer.json()["error"].split("\n")
    assert len(lines) == 2, lines[:5]
    assert lines[0].startswith('"1","dob","yesterday",')
    assert lines[1].startswith(f'"{RECORDS}","dob","2024-13-45",')
    assert api.json(content="record") == []


def test_a_big_json_import_with_an_unknown_field_in_its_last_item(server):
    api = clinical_classic(server)
    items = [{"record_id": str(i), "notes": "n" * 500} for i in range(1, 2_501)]
    items[-1]["no_such_field"] = "x"
    answer = post(api, content="record", format="json", data=json.dumps(items))
    assert answer.status_code == 400
    assert "no_such_field" in answer.text
    assert api.json(content="record") == []
    del items[-1]["no_such_field"]
    answer = post(
        api, content="record", format="json", forceAutoNumber="true", data=json.dumps(items)
    )
    assert answer.status_code == 200, answer.text[:500]
    assert answer.json() == {"count": 2_500}
    assert len(api.json(content="record", fields="record_id")) == 2_500


def test_a_big_xml_import(server):
    api = clinical_classic(server)
    items = "".join(
        f"<item><record_id>{i}</record_id><notes><![CDATA[{'<n>' * 150}]]></notes></item>"
        for i in range(1, 2_501)
    )
    answer = post(api, content="record", format="xml", data=f"<records>{items}</records>")
    assert answer.status_code == 200, answer.text[:500]
    assert api.json(content="record", records="2500", fields="notes") == [{"notes": "<n>" * 150}]


def test_without_create_records_every_new_record_of_every_batch_is_named(server):
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": str(i)} for i in range(3, RECORDS - 2)])
    editor = user_api(api, "editor", record_create=0)
    table = [row for row in rows() if not row[9]]  # one row per record, 2,500 records
    answer = post(editor, content="record", format="csv", returnFormat="json", data=body(table))
    assert answer.status_code == 403, answer.text[:500]
    message = answer.json()["error"]
    assert message.startswith("You do not have Create Records privileges")
    # records 1-2 are in the first batch, 2498-2500 in the last: all named, nothing written
    assert message.endswith(": 1, 2, 2498, 2499, 2500"), message
    assert api.json(content="record", records="3", fields="first_name") == [{"first_name": ""}]
