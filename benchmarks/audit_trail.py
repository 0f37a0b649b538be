"""Benchmark: what the audit trail costs and how it holds against a flood (docs/AUDIT.md).

Why: every API call writes an audit entry, Import Records stores what it changed (REDCap's
``field = 'value'`` per record row), and invalid-token calls are logged but limited per
client address. This measures, against a ``localcap serve`` subprocess (SQLite, default
settings):

1. 650 invalid-token calls from one client (8 threads): answers by status, entries written;
2. one 4.4 MB request (2,000 parameters of 1 KB, 20 array values of 100 KB): the size of the
   entry stored;
3. Import Records of N records x 8 fields in one call, created then updated twice: seconds
   per import and the largest audit entry.

Run: ``.venv/bin/python benchmarks/audit_trail.py [records]`` (default 5,000).
"""

from __future__ import annotations

import collections
import json
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from liveserver import free_port, new_super_token, spawn_cli_server  # noqa: E402

DICTIONARY = [
    {"field_name": name, "form_name": "visit", "field_type": "text", "field_label": name}
    for name in ("record_id", "first_name", "email", "sex", "weight", "height", "notes", "site")
]


def flood(url: str, db: Path) -> str:
    def call(i: int) -> int:
        data = {"token": f"{i:032X}", "content": "record"}
        return requests.post(url, data=data, timeout=30).status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        codes = collections.Counter(pool.map(call, range(650)))
    seconds = time.perf_counter() - start
    with sqlite3.connect(db) as conn:
        logged = conn.execute(
            "select count(*) from audit_log where username = '[invalid token]'"
        ).fetchone()[0]
    return f"650 invalid-token calls in {seconds:.2f} s: {dict(codes)}; entries written: {logged}"


def bloat(url: str, token: str, db: Path) -> str:
    pairs = [(f"p{i}_" + "n" * 200, "v" * 1000) for i in range(2000)]
    pairs += [("fields[]", "f" * 100_000)] * 20
    size = sum(len(k) + len(v) + 2 for k, v in pairs)
    requests.post(url, data=[*pairs, ("token", token), ("content", "version")], timeout=60)
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "select length(params) from audit_log where content = 'version' "
            "order by log_id desc limit 1"
        ).fetchone()
    if row is None:
        return f"a {size / 1e6:.1f} MB request to Export Version is not logged"
    return f"a {size / 1e6:.1f} MB request is stored as {row[0]:,} characters of parameters"


def imports(url: str, super_token: str, db: Path, n: int) -> str:
    created = [{"project_title": "audit bench", "purpose": 0}]
    token = requests.post(
        url,
        data={
            "token": super_token,
            "content": "project",
            "format": "json",
            "data": json.dumps(created),
        },
        timeout=60,
    ).text
    common = {"token": token, "format": "json", "action": "import"}
    requests.post(
        url, data={**common, "content": "metadata", "data": json.dumps(DICTIONARY)}, timeout=60
    ).raise_for_status()
    times = []
    for rep in range(3):
        rows = [
            {
                "record_id": str(i),
                "first_name": f"N{i}r{rep}",
                "email": f"a{i}@x.org",
                "sex": str((i + rep) % 2),
                "weight": str(50 + (i + rep) % 40),
                "height": "170",
                "notes": f"note {i} {rep}",
                "site": "A",
            }
            for i in range(1, n + 1)
        ]
        start = time.perf_counter()
        answer = requests.post(
            url, data={**common, "content": "record", "data": json.dumps(rows)}, timeout=600
        )
        times.append(time.perf_counter() - start)
        answer.raise_for_status()
    with sqlite3.connect(db) as conn:
        largest = conn.execute("select max(length(changes)) from audit_log").fetchone()[0]
    shown = ", ".join(f"{t:.2f}" for t in times)
    return (
        f"Import Records, {n:,} records x 8 fields (create, update, update): {shown} s; "
        f"largest audit entry {largest / 1e6:.1f} MB"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    data_dir = Path(tempfile.mkdtemp(prefix="localcap-audit-bench-"))
    super_token = new_super_token(data_dir)
    port = free_port()
    process = spawn_cli_server(data_dir, port, "--rate-limit", "0")
    url = f"http://127.0.0.1:{port}/api/"
    db = data_dir / "localcap.sqlite3"
    try:
        print(flood(url, db))
        print(bloat(url, super_token, db))
        print(imports(url, super_token, db, n))
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
