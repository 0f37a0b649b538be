"""Benchmark: export a 100k-record x 200-field report over HTTP, in CSV and JSON.

Why: big exports are what users wait for. The report is streamed from the database as it is
read, so speed should be a fair fraction of simply writing the same rows from memory with
Python's csv module (the baseline, measured in the same run), the first byte should arrive at
once, and the server's memory should stay flat whatever the report size.

Run: ``.venv/bin/python benchmarks/report_export.py [records] [fields]``. The project is
written straight into a fresh SQLite database (importing 20M values through the API is not
what is measured here), then ``localcap serve`` runs in a subprocess and a streaming HTTP
client reads the report; peak RSS is the server process's VmHWM from /proc.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests  # only to wait for the server
from sqlalchemy import insert

from localcap.db import projects as store
from localcap.db import schema as t
from localcap.db.engine import open_database
from localcap.db.records import LAYOUTS, encode_data, natural_sort_key
from localcap.db.reports import save_reports
from localcap.db.tokens import create_project_token
from localcap.model.project import Field
from localcap.model.rights import Rights
from localcap.reports.definition import ReportDefinition

FORMS = 4


def dictionary(n_fields: int) -> list[Field]:
    fields = [Field("record_id", "form_1", "text", "Record ID")]
    kinds = ["text", "number", "radio", "date", "notes"]
    for i in range(1, n_fields):
        form = f"form_{1 + (i * FORMS) // n_fields}"
        kind = kinds[i % len(kinds)]
        name = f"f{i:03d}"
        if kind == "number":
            fields.append(
                Field(name, form, "text", name, text_validation_type_or_show_slider_number="number")
            )
        elif kind == "radio":
            fields.append(
                Field(name, form, "radio", name, select_choices_or_calculations="1, A|2, B|3, C")
            )
        elif kind == "date":
            fields.append(
                Field(
                    name, form, "text", name, text_validation_type_or_show_slider_number="date_ymd"
                )
            )
        else:
            fields.append(Field(name, form, kind, name))
    return fields


def value_for(field: Field, rnd: random.Random) -> str:
    if field.field_type == "radio":
        return rnd.choice("123")
    if field.validation == "number":
        return f"{rnd.uniform(0, 1000):.2f}"
    if field.validation == "date_ymd":
        return f"20{rnd.randint(10, 25)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    return f"value {rnd.randint(0, 10**6)} text"


def build(
    data_dir: Path, n_records: int, n_fields: int, url: str | None = None, keep_rows: bool = True
) -> tuple[str, list[list[str]], list[str]]:
    """Write the project (SQLite in ``data_dir``, or the database at ``url``); return a token,
    the expected rows (the baseline's input; none unless ``keep_rows``) and header."""
    engine = open_database(data_dir, url)
    fields = dictionary(n_fields)
    rnd = random.Random(7)
    with engine.begin() as conn:
        pid = store.create_project(conn, "bench", False, {})
        project = store.load_project(conn, pid)
        assert project is not None
        store.replace_metadata(conn, project, fields)
        project = store.load_project(conn, pid)
        assert project is not None
        store.ensure_user(conn, "bench")
        store.save_project_user(conn, pid, "bench", Rights.full(project), None)
        token = create_project_token(conn, pid, "bench")
        layout = LAYOUTS.current(conn, pid)  # rows stored as the server writes them: packed
        save_reports(
            conn, pid, [ReportDefinition(title="all", fields=[f.field_name for f in fields])]
        )
    header = ["record_id"] + [f.field_name for f in fields[1:]]
    rows: list[list[str]] = []
    batch_records, batch_data = [], []
    for n in range(1, n_records + 1):
        record = str(n)
        data = {f.field_name: value_for(f, rnd) for f in fields[1:]}
        for form in {f.form_name for f in fields}:
            data[f"{form}_complete"] = "2"
        if keep_rows:
            rows.append([record] + [data[f.field_name] for f in fields[1:]])
        batch_records.append(
            {
                "project_id": pid,
                "record": record,
                "sort_key": natural_sort_key(record),
                "group_id": None,
            }
        )
        batch_data.append(
            {
                "project_id": pid,
                "record": record,
                "event_id": 0,
                "repeat_instrument": "",
                "instance": 1,
                "data": encode_data(layout, data),
            }
        )
        if len(batch_records) == 5000 or n == n_records:
            with engine.begin() as conn:
                conn.execute(insert(t.records), batch_records)
                conn.execute(insert(t.record_data), batch_data)
            batch_records, batch_data = [], []
    # A database at rest, as a server finds it: everything checkpointed out of the WAL
    # (PostgreSQL: vacuumed and analysed). Neither runs inside a transaction, and every
    # SQLAlchemy transaction on SQLite begins with BEGIN IMMEDIATE (db/transactions.py), so
    # it runs on the driver's connection.
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute("VACUUM ANALYZE")
        else:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    engine.dispose()
    return token, rows, header


def baseline(header: list[str], rows: list[list[str]]) -> tuple[float, float]:
    """(Seconds, CPU seconds) to write the same flat rows from memory with the csv module."""
    start, cpu = time.perf_counter(), time.process_time()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    out.getvalue().encode()
    return time.perf_counter() - start, time.process_time() - cpu


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc). On a machine shared with
    other work, CPU time is the steadier measure: wall time also counts waiting for a core."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def export(url: str, token: str, fmt: str) -> tuple[float, float, int]:
    """(time to first byte, total seconds, bytes) for one streamed export, read by curl.

    curl (C) is the client so that the client's own cost does not eat into the server's
    share of this 2-core machine.
    """
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{time_starttransfer} %{time_total} %{size_download}",
            "-d",
            f"token={token}",
            "-d",
            "content=report",
            "-d",
            "report_id=1",
            "-d",
            f"format={fmt}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def main() -> None:
    n_records = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_fields = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        t0 = time.perf_counter()
        token, rows, header = build(data_dir, n_records, n_fields)
        print(
            f"built {n_records} records x {n_fields} fields in {time.perf_counter() - t0:.1f}s",
            file=sys.stderr,
        )
        base, base_cpu = min(baseline(header, rows) for _ in range(3))
        del rows
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcap.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/api/"
        try:
            for _ in range(100):
                try:
                    requests.post(url, data={"token": token, "content": "version"}, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            idle_rss = peak_rss_mb(server.pid)
            results = {}
            for fmt in ("csv", "json"):
                runs = []
                for _ in range(3):
                    cpu = cpu_seconds(server.pid)
                    runs.append((*export(url, token, fmt), cpu_seconds(server.pid) - cpu))
                results[fmt] = min(runs, key=lambda r: r[1])
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    base_rate = n_records / base
    lines = [
        "| variant | seconds | rows/s | vs baseline speed | CPU s | vs baseline CPU "
        "| first byte | server peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| baseline: csv module, same rows from memory | {base:.2f} | {base_rate:,.0f} | 1.00 "
        f"| {base_cpu:.2f} | 1.00 | - | - |",
    ]
    for fmt, (ttfb, total, size, cpu) in results.items():
        rate = n_records / total
        lines.append(
            f"| report export over HTTP, {fmt} ({size / 1e6:,.0f} MB) | {total:.2f} | {rate:,.0f} | "
            f"{rate / base_rate:.2f} | {cpu:.2f} | {base_cpu / cpu:.2f} | {ttfb * 1000:.0f} ms "
            f"| {rss:.0f} MB |"
        )
    print("\n".join(lines))
    print(
        json.dumps({"idle_rss_mb": round(idle_rss, 1), "records": n_records, "fields": n_fields}),
        file=sys.stderr,
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
