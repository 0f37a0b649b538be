"""Exports read consistent data while imports run: each record entirely before or after.

Writers replace whole records in one transaction; an export reads each batch of records in
one query, so no record is ever seen half old, half new - on SQLite (WAL) and PostgreSQL.
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
