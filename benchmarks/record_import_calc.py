"""Benchmark: what computing calculated fields costs an Import Records call.

Why: Import Records computes the calc fields the imported data feeds (as REDCap does), inside
the import's transaction. The baseline is the same import, in the same run, into a project
whose four "calc" fields are plain text fields (nothing to compute); the ratio is the cost of
calculating. Four calc fields: BMI with round(), a chain on it, an if(), and a datediff().

Run: ``.venv/bin/python benchmarks/record_import_calc.py [records]`` (default 10,000). Imports
in batches of 1,000 records over HTTP to a ``localcap serve`` subprocess (SQLite); best of 3.
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
CALCS = {
    "bmi": "round([weight]*10000/([height]^2),1)",
    "obese": "if([bmi] >= 30, 1, 0)",
    "bmi_x2": "[bmi]*2",
    "age": "rounddown(datediff([dob],'2026-01-01','y'))",
}


def dictionary(with_calcs: bool) -> list[dict[str, str]]:
    rows = [
        {"field_name": "record_id", "form_name": "visit", "field_type": "text"},
        {"field_name": "dob", "form_name": "visit", "field_type": "text"},
        {"field_name": "weight", "form_name": "visit", "field_type": "text"},
        {"field_name": "height", "form_name": "visit", "field_type": "text"},
    ]
    for name, expression in CALCS.items():
        row = {"field_name": name, "form_name": "visit", "field_type": "text"}
        if with_calcs:
            row.update(field_type="calc", select_choices_or_calculations=expression)
        rows.append(row)
    for row in rows:
        row.setdefault("field_label", row["field_name"])
    return rows


def records(n: int) -> list[dict[str, str]]:
    return [
        {
            "record_id": str(i),
            "dob": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 9}",
            "weight": str(50 + i % 60),
            "height": str(150 + i % 40),
        }
        for i in range(1, n + 1)
    ]


def post(url: str, **data: str) -> requests.Response:
    response = requests.post(url, data=data, timeout=600)
    response.raise_for_status()
    return response


def import_seconds(url: str, super_token: str, with_calcs: bool, rows: list[dict]) -> float:
    """Create a fresh project, then time importing ``rows`` into it."""
    info = [{"project_title": "bench", "purpose": 0}]
    token = post(url, token=super_token, content="project", format="json", data=json.dumps(info))
    token = token.text
    post(
        url, token=token, content="metadata", format="json", data=json.dumps(dictionary(with_calcs))
    )
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        post(
            url, token=token, content="record", format="json", data=json.dumps(rows[i : i + BATCH])
        )
    seconds = time.perf_counter() - start
    if with_calcs:  # the calc values are really there
        sample = post(url, token=token, content="record", format="json", **{"records[0]": "1"})
        assert sample.json()[0]["bmi"], sample.text
    return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rows = records(n)
    with tempfile.TemporaryDirectory() as tmp:
        localcap = [sys.executable, "-m", "localcap.cli"]
        super_token = subprocess.run(
            [*localcap, "token", "super", "--data-dir", tmp],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        port = free_port()
        server = subprocess.Popen(
            [*localcap, "serve", "--data-dir", tmp, "--port", str(port), "--rate-limit", "0"],
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
            base = min(import_seconds(url, super_token, False, rows) for _ in range(3))
            calc = min(import_seconds(url, super_token, True, rows) for _ in range(3))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("| variant | seconds | records/s | vs baseline time |")
    print("|---|---:|---:|---:|")
    print(f"| baseline: the four fields as plain text | {base:.2f} | {n / base:,.0f} | 1.00 |")
    print(f"| four calc fields computed | {calc:.2f} | {n / calc:,.0f} | **{calc / base:.2f}** |")


if __name__ == "__main__":
    main()
