"""Exports read consistent data while imports run.

Writers replace whole records in one transaction, and an export reads all its batches of
records from one read snapshot, so it shows every import entirely or not at all: no record
half old, half new, and no record old while a later one in the same export is new - on
SQLite (WAL) and PostgreSQL.
"""

from __future__ import annotations

import json
import threading

import requests

from builders import Api, clinical_classic

RECORDS = 60
FIELDS = ("first_name", "notes", "email")


def generation(n: int) -> list[dict[str, str]]:
    """Every record's three fields carry the same generation number."""
    return [
        {"record_id": str(r), "first_name": f"g{n}", "notes": f"g{n}", "email": f"g{n}@x.org"}
        for r in range(1, RECORDS + 1)
    ]


def test_exports_during_imports_see_whole_records(server):
    api = clinical_classic(server, repeating=False)
    api.ok(content="record", format="json", data=json.dumps(generation(0)))
    stop = threading.Event()
    errors: list[str] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            response = requests.post(
                server.url,
                data={
                    "token": api.token,
                    "content": "record",
                    "format": "json",
                    "data": json.dumps(generation(n)),
                },
                timeout=60,
            )
            if response.status_code != 200:
                errors.append(response.text)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen_generations = set()
        for _ in range(25):
            rows = Api(server, api.token).json(
                content="record",
                **{f"fields[{i}]": f for i, f in enumerate(("record_id", *FIELDS))},
            )
            assert len(rows) == RECORDS
            for row in rows:
                values = {row["first_name"], row["notes"], row["email"].split("@")[0]}
                assert len(values) == 1, f"record {row['record_id']} is half old, half new: {row}"
                seen_generations.add(row["first_name"])
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors
    assert len(seen_generations) > 1  # the imports really ran during the exports


def test_a_streamed_export_is_one_snapshot_across_batches(server):
    """An export read slowly, with an import committed between its first and last batches,
    shows the state from its start throughout: never the first record old and the last new.
    (Records are read 500 at a time; the rows are big enough that the server cannot run
    ahead of the client by more than the socket buffers.)"""
    api = clinical_classic(server, repeating=False)
    names = [f"r{i:04d}" for i in range(1500)]
    filler = "x" * 10_000
    for start in range(0, len(names), 500):
        rows = [
            {"record_id": r, "first_name": "old", "notes": filler}
            for r in names[start : start + 500]
        ]
        api.ok(content="record", format="json", data=json.dumps(rows))
    response = requests.post(
        server.url,
        data={"token": api.token, "content": "record", "format": "json"},
        stream=True,
        timeout=120,
    )
    assert response.status_code == 200
    chunks = response.iter_content(chunk_size=1 << 16)
    body = b"".join(next(chunks) for _ in range(16))  # the first MB: record r0000 is in it
    changed = [{"record_id": r, "first_name": "new"} for r in (names[0], names[-1])]
    api.ok(content="record", format="json", data=json.dumps(changed))
    body += b"".join(chunks)
    seen = {row["record_id"]: row["first_name"] for row in json.loads(body)}
    assert (seen[names[0]], seen[names[-1]]) == ("old", "old")
    assert {r["first_name"] for r in api.json(content="record", fields="first_name")} == {
        "old",
        "new",
    }
