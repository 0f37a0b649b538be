"""Issue 17: the server's memory does not grow with the size of an Import Records body.

A ``localcap serve`` process imports 2,000 records and then 20,000 (40 columns, one CSV
request each); its peak RSS (VmHWM from /proc) may not grow by more than a few MB with the
second, ten times bigger, import. Before the import was streamed, every row was held as a
dict (and its plan, its stored form and its audit log changes too): about 100 MB more per
1,000 records of 228 columns.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import requests

from builders import Api, create_project, field
from liveserver import start_cli_server
from localcap.db.bulk import BULK_CACHE_KIB

COLUMNS = 40
#: What the peak RSS may grow by from the small import to the ten times bigger one: a few MB,
#: and the SQLite page cache a streamed import may fill (a fixed size: db/bulk.py), which the
#: small import leaves partly empty.
ALLOWED_GROWTH = (25 << 20) + BULK_CACHE_KIB * 1024


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _body(first: int, count: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["record_id"] + [f"f{i:02d}" for i in range(1, COLUMNS)])
    for n in range(first, first + count):
        writer.writerow([str(n)] + [f"value {n} of field {i:02d}" for i in range(1, COLUMNS)])
    return out.getvalue()


def test_peak_memory_does_not_grow_with_the_import(tmp_path):
    server = start_cli_server(tmp_path)
    try:
        api: Api = create_project(server)  # type: ignore[arg-type]
        fields = [field("record_id", "form_1")] + [
            field(f"f{i:02d}", f"form_{1 + i * 4 // COLUMNS}") for i in range(1, COLUMNS)
        ]
        assert api.import_json("metadata", fields) == COLUMNS
        peaks = []
        first = 1
        for count in (2_000, 20_000):
            data = _body(first, count)
            answer = requests.post(
                api.url,
                data={"token": api.token, "content": "record", "format": "csv", "data": data},
                timeout=600,
            )
            assert answer.status_code == 200, answer.text[:500]
            assert json.loads(answer.text) == count
            peaks.append(_peak_rss(server.process.pid))
            first += count
        assert peaks[1] - peaks[0] < ALLOWED_GROWTH, [p >> 20 for p in peaks]
    finally:
        server.stop()
