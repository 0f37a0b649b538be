"""Benchmark: Import Records of 1k, 10k and 100k records x 228 columns in ONE CSV request.

Why: clients (REDCap's own UI import, many scripts) send whole data sets in one request. The
import must stay fast and its memory flat whatever the size, all-or-nothing included. The
baseline, measured in the same run, is the least any import can cost: the same rows inserted
by a plain ``executemany`` (one JSON document per row, as localcap stored them before rows
were packed: docs/ARCHITECTURE.md, "Stored record data") into a fresh database of the same
kind, in one transaction.

The project: a classic project of 200 fields over 4 instruments (text, number, radio, date,
checkbox with 3 options, notes), 228 columns in the CSV. Each size is imported into a fresh
project by a fresh ``localcap serve`` subprocess (one worker), so the server's peak RSS
(VmHWM from /proc) is that import's; the body is sent by curl from a file.

Run: ``.venv/bin/python benchmarks/import_records.py [sizes] [backends]``, e.g.
``... 1000,10000,100000 sqlite,postgresql`` (the default). PostgreSQL is a throw-away cluster
started as the test suite starts it (``tests/support/postgres.py``).
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote_plus, urlencode

import orjson
import requests
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from liveserver import free_port  # noqa: E402
from localcap.db import schema as t  # noqa: E402
from localcap.db.engine import open_database  # noqa: E402
from localcap.db.records import natural_sort_key  # noqa: E402

FORMS = 4
FIELDS = 200
KINDS = ["text", "number", "radio", "date", "notes"]
CHECKBOX_EVERY = 14  # 14 checkbox fields x 3 options: 200 fields, 228 columns


def dictionary() -> list[dict[str, str]]:
    """The data dictionary, as Import Metadata takes it."""
    rows = [{"field_name": "record_id", "form_name": "form_1", "field_type": "text"}]
    for i in range(1, FIELDS):
        row = {"field_name": f"f{i:03d}", "form_name": f"form_{1 + (i * FORMS) // FIELDS}"}
        kind = "checkbox" if i % CHECKBOX_EVERY == 0 else KINDS[i % len(KINDS)]
        if kind == "number":
            row.update(field_type="text", text_validation_type_or_show_slider_number="number")
        elif kind == "date":
            row.update(field_type="text", text_validation_type_or_show_slider_number="date_ymd")
        elif kind in ("radio", "checkbox"):
            row.update(field_type=kind, select_choices_or_calculations="1, A|2, B|3, C")
        else:
            row.update(field_type=kind)
        rows.append(row)
    for row in rows:
        row["field_label"] = row["field_name"]
    return rows


def header(fields: list[dict[str, str]]) -> list[str]:
    columns = []
    for f in fields:
        if f["field_type"] == "checkbox":
            columns.extend(f"{f['field_name']}___{code}" for code in "123")
        else:
            columns.append(f["field_name"])
    return columns


def value(f: dict[str, str], rnd: random.Random) -> str | list[str]:
    kind = f["field_type"]
    validation = f.get("text_validation_type_or_show_slider_number")
    if kind == "radio":
        return rnd.choice("123")
    if kind == "checkbox":
        return [code for code in "123" if rnd.random() < 0.5]
    if validation == "number":
        return f"{rnd.uniform(0, 100):.1f}"
    if validation == "date_ymd":
        return f"20{rnd.randint(10, 25)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    if kind == "notes":
        return f"n{rnd.randint(0, 999)}, a\nb"
    return f"t {rnd.randint(0, 999)}"


def records(fields: list[dict[str, str]], n: int) -> Iterator[dict[str, str | list[str]]]:
    """The stored form of each record: field -> value (a checkbox: its checked codes)."""
    rnd = random.Random(7)
    for i in range(1, n + 1):
        data: dict[str, str | list[str]] = {"record_id": str(i)}
        for f in fields[1:]:
            data[f["field_name"]] = value(f, rnd)
        yield data


def write_csv(path: Path, fields: list[dict[str, str]], n: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header(fields))
        for data in records(fields, n):
            cells: list[str] = []
            for f in fields:
                v = data[f["field_name"]]
                if f["field_type"] == "checkbox":
                    cells.extend("1" if code in v else "0" for code in "123")
                else:
                    cells.append(str(v))
            writer.writerow(cells)


def stored(fields: list[dict[str, str]], data: dict[str, str | list[str]]) -> bytes:
    """A record as localcap stores it (the baseline writes the same documents)."""
    row = {k: v for k, v in data.items() if v != []}
    for form in {f["form_name"] for f in fields}:
        row[f"{form}_complete"] = "0"
    return orjson.dumps(row)


def baseline(url: str | None, data_dir: Path, fields: list[dict[str, str]], n: int) -> float:
    """Seconds to insert the same rows with a plain executemany, in one transaction."""
    engine = open_database(data_dir, url)
    batch_records, batch_data = [], []
    for data in records(fields, n):
        record = str(data["record_id"])
        batch_records.append(
            {"project_id": 1, "record": record, "sort_key": natural_sort_key(record)}
        )
        batch_data.append(
            {
                "project_id": 1,
                "record": record,
                "event_id": 0,
                "repeat_instrument": "",
                "instance": 1,
                "data": stored(fields, data).decode(),
            }
        )
    with engine.begin() as conn:
        conn.execute(t.projects.insert().values(project_id=1, project_title="baseline"))
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(t.records), batch_records)
        conn.execute(insert(t.record_data), batch_data)
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc: immune to other load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, **data: str) -> requests.Response:
    response = requests.post(url, data=data, timeout=3600)
    response.raise_for_status()
    return response


@contextmanager
def serving(data_dir: Path, url: str | None) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """(API URL, super token, process) of a fresh ``localcap serve``."""
    localcap = [sys.executable, "-m", "localcap.cli"]
    db = ["--data-dir", str(data_dir)] + (["--database-url", url] if url else [])
    super_token = subprocess.run(
        [*localcap, "token", "super", *db], check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    port = free_port()
    server = subprocess.Popen(
        [
            *localcap,
            "serve",
            *db,
            "--port",
            str(port),
            "--rate-limit",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api/"
    try:
        for _ in range(200):
            try:
                requests.post(api, data={}, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield api, super_token, server
    finally:
        server.terminate()
        server.wait(timeout=60)


def encoded_body(body: Path, token: str) -> Path:
    """The request body (form-urlencoded, as clients send it) in a file beside ``body``."""
    encoded = body.with_suffix(".form")
    with body.open() as source, encoded.open("w") as out:
        out.write(urlencode({"token": token, "content": "record", "format": "csv"}) + "&data=")
        while chunk := source.read(1 << 20):
            out.write(quote_plus(chunk))
    return encoded


def import_once(
    data_dir: Path, url: str | None, fields: list[dict[str, str]], body: Path, n: int
) -> tuple[float, float, float, float]:
    """(seconds, server CPU seconds, idle RSS MB, peak RSS MB) of one import of ``body``
    into a fresh project."""
    with serving(data_dir, url) as (api, super_token, server):
        info = [{"project_title": "bench", "purpose": 0}]
        token = post(
            api, token=super_token, content="project", format="json", data=json.dumps(info)
        ).text
        post(api, token=token, content="metadata", format="json", data=json.dumps(fields))
        encoded = encoded_body(body, token)  # the client's work: not timed
        idle = peak_rss_mb(server.pid)
        cpu = cpu_seconds(server.pid)
        start = time.perf_counter()
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-w",
                "\n%{http_code}",
                "-H",
                "Content-Type: application/x-www-form-urlencoded",
                "--data-binary",
                f"@{encoded}",
                api,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        seconds = time.perf_counter() - start
        cpu = cpu_seconds(server.pid) - cpu
        answer, status = out.rsplit("\n", 1)
        if status != "200" or answer.strip() != str(n):
            raise RuntimeError(f"import failed: {status} {answer[:500]}")
        return seconds, cpu, idle, peak_rss_mb(server.pid)


_names = iter(range(1, 1000))


def measure(backend: str, pg: object, n: int, fields: list[dict[str, str]], body: Path) -> str:
    """One table line: the import and its baseline, each into a fresh database."""
    from support import postgres

    def fresh() -> str | None:
        if backend == "sqlite":
            return None
        return postgres.create_database(pg, f"bench_{next(_names)}")

    with tempfile.TemporaryDirectory() as tmp_a, tempfile.TemporaryDirectory() as tmp_b:
        seconds, cpu, idle, peak = import_once(Path(tmp_a), fresh(), fields, body, n)
        base = baseline(fresh(), Path(tmp_b), fields, n)
    size = body.stat().st_size / 1e6
    return (
        f"| {backend} | {n:,} ({size:,.1f} MB) | {base:.2f} | {n / base:,.0f} | {seconds:.2f} | "
        f"{n / seconds:,.0f} | {base / seconds:.2f} | {cpu:.1f} s, {n / cpu:,.0f} rec/s "
        f"| {idle:.0f} MB | {peak:.0f} MB |"
    )


def main() -> None:
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "1000,10000,100000").split(",")]
    backends = (sys.argv[2] if len(sys.argv) > 2 else "sqlite,postgresql").split(",")
    fields = dictionary()
    print(
        "| backend | records (CSV body) | baseline s | baseline rec/s | import s | import rec/s "
        "| vs baseline speed | server CPU | server idle RSS | server peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        pg = None
        if "postgresql" in backends:
            from support import postgres

            pg = stack.enter_context(postgres.running_postgres())
        for n in sizes:
            body = Path(tmp) / f"{n}.csv"
            write_csv(body, fields, n)
            for backend in backends:
                print(measure(backend, pg, n, fields, body), flush=True)
            body.unlink()


if __name__ == "__main__":
    main()
