"""Benchmark: what SQLite's ``synchronous=FULL`` (localcap's default) costs Import Records.

Why: with FULL every commit fsyncs the WAL, so an acknowledged write survives power loss; with
NORMAL (the old default) it does not. The cost is one fsync per commit, so it shows most on
many small imports. Two workloads, each against a fresh ``localcap serve`` (SQLite) started
with ``--sqlite-synchronous full`` and then ``normal``: 10,000 records imported in batches of
1,000 (bulk), and 500 imports of one record each (one commit per request). Best of 3.

Run: ``.venv/bin/python benchmarks/sqlite_durability.py [records] [single_imports]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from liveserver import free_port  # noqa: E402

BATCH = 1_000
DICTIONARY = [
    {"field_name": name, "form_name": "visit", "field_type": "text", "field_label": name}
    for name in ("record_id", "name", "weight", "notes")
]


def post(url: str, **data: str) -> requests.Response:
    response = requests.post(url, data=data, timeout=600)
    response.raise_for_status()
    return response


def rows(first: int, n: int) -> list[dict[str, str]]:
    return [
        {"record_id": str(i), "name": f"n{i}", "weight": str(50 + i % 60), "notes": "x" * 40}
        for i in range(first, first + n)
    ]


def new_project(url: str, super_token: str) -> str:
    info = [{"project_title": "bench", "purpose": 0}]
    token = post(url, token=super_token, content="project", format="json", data=json.dumps(info))
    post(url, token=token.text, content="metadata", format="json", data=json.dumps(DICTIONARY))
    return token.text


def bulk_seconds(url: str, super_token: str, n: int) -> float:
    token = new_project(url, super_token)
    start = time.perf_counter()
    for first in range(1, n + 1, BATCH):
        data = json.dumps(rows(first, min(BATCH, n + 1 - first)))
        post(url, token=token, content="record", format="json", data=data)
    return time.perf_counter() - start


def single_seconds(url: str, super_token: str, n: int) -> float:
    token = new_project(url, super_token)
    session = requests.Session()
    start = time.perf_counter()
    for i in range(1, n + 1):
        data = {"token": token, "content": "record", "format": "json"}
        data["data"] = json.dumps(rows(i, 1))
        session.post(url, data=data, timeout=60).raise_for_status()
    return time.perf_counter() - start


def measure(synchronous: str, records: int, singles: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:  # the disk users' data is on
        localcap = [sys.executable, "-m", "localcap.cli"]
        super_token = subprocess.run(
            [*localcap, "token", "super", "--data-dir", tmp],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        port = free_port()
        server = subprocess.Popen(
            [
                *localcap,
                "serve",
                "--data-dir",
                tmp,
                "--port",
                str(port),
                "--rate-limit",
                "0",
                "--sqlite-synchronous",
                synchronous,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/api/"
        try:
            for _ in range(100):
                try:
                    requests.post(url, data={}, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            bulk = min(bulk_seconds(url, super_token, records) for _ in range(3))
            single = min(single_seconds(url, super_token, singles) for _ in range(3))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return bulk, single


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    singles = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    normal = measure("normal", records, singles)
    full = measure("full", records, singles)
    print(
        f"| synchronous | {records:,} records in batches of {BATCH:,} (s) | records/s "
        f"| {singles} one-record imports (s) | imports/s |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, (bulk, single) in (("NORMAL (before)", normal), ("FULL (default now)", full)):
        print(
            f"| {name} | {bulk:.2f} | {records / bulk:,.0f} | {single:.2f} "
            f"| {singles / single:,.0f} |"
        )
    print(f"| FULL / NORMAL time | {full[0] / normal[0]:.2f} | | {full[1] / normal[1]:.2f} | |")


if __name__ == "__main__":
    main()
