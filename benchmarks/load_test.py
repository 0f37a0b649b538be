"""Load test (issue 18): locust drives running ``localcap serve`` processes on loopback.

For each configuration, in one run and on the same generated project (same seed):

* ``sqlite-1``: SQLite, one worker;
* ``pg-1``: PostgreSQL, one worker;
* ``pg-2w``: PostgreSQL, ``--workers 2``;
* ``pg-2p-s3``: two separate ``localcap serve`` processes on different ports sharing one
  PostgreSQL database and one S3 bucket (moto's server on loopback), behind a small
  round-robin proxy (``rr_proxy.py``).

Each gets a fresh database and file store, the project (2,000 records x 28 fields over
2 DAGs, 20 files, 4 users with different rights, a big and a small report), then locust
(``locustfile.py``: single-record exports, small imports, metadata reads, small and big
report exports, file uploads and downloads, from many users with different rights) for
``--seconds``; then every write the server acknowledged is checked to be there (records by
value, files by SHA-256). PostgreSQL is a throw-away cluster on loopback with durability ON
(``fsync``, ``synchronous_commit``, ``full_page_writes``), as SQLite's ``synchronous=FULL``.

Run: ``.venv/bin/python benchmarks/load_test.py [--seconds 60] [--users 24] [--only NAME]``
(needs the ``bench`` extra: ``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
from liveserver import free_port  # noqa: E402
from localcap.db import projects as store  # noqa: E402
from localcap.db.engine import open_database  # noqa: E402
from localcap.db.reports import save_reports  # noqa: E402
from localcap.db.tokens import create_project_token  # noqa: E402
from localcap.model.project import Field  # noqa: E402
from localcap.model.rights import DEIDENTIFIED, Rights  # noqa: E402
from localcap.reports.definition import ReportDefinition  # noqa: E402
from support import postgres  # noqa: E402

RECORDS = 2_000
FILES = 20
VISIT_FIELDS = [f"v{n:02d}" for n in range(1, 21)]
DICTIONARY = [
    Field("record_id", "enrolment", "text", "Record ID"),
    Field("name", "enrolment", "text", "Name", identifier="y"),
    Field(
        "dob", "enrolment", "text", "Birth", text_validation_type_or_show_slider_number="date_ymd"
    ),
    Field("age", "enrolment", "text", "Age", text_validation_type_or_show_slider_number="integer"),
    Field("sex", "enrolment", "radio", "Sex", select_choices_or_calculations="1, Female|2, Male"),
    Field(
        "weight", "enrolment", "text", "Weight", text_validation_type_or_show_slider_number="number"
    ),
    Field("notes", "enrolment", "notes", "Notes"),
    Field("consent", "enrolment", "file", "Consent form"),
    *[Field(name, "visit", "text", name.upper()) for name in VISIT_FIELDS],
]


@dataclass
class Setup:
    """One configuration's running pieces."""

    name: str
    url: str
    data_dir: Path
    database_url: str | None
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)


def build_project(data_dir: Path, url: str | None) -> dict[str, str]:
    """The project, its users and reports, written before the server starts; the tokens."""
    engine = open_database(data_dir, url)
    with engine.begin() as conn:
        pid = store.create_project(conn, "Load test", False, {"purpose": 0})
        project = store.load_project(conn, pid)
        assert project is not None
        store.replace_metadata(conn, project, DICTIONARY)
        site_a = store.save_dag(conn, pid, "Site A", "site_a")
        store.save_dag(conn, pid, "Site B", "site_b")
        project = store.load_project(conn, pid)
        assert project is not None
        deid = Rights.full(project)
        deid.data_export = DEIDENTIFIED
        deid.forms_export = {f.form_name: DEIDENTIFIED for f in project.forms}
        reader = Rights.full(project)
        for rights in (deid, reader):
            rights.flags["api_import"] = 0
        users = {
            "owner": (Rights.full(project), None),
            "site": (Rights.full(project), site_a),
            "deid": (deid, None),
            "reader": (reader, None),
        }
        tokens = {}
        for role, (rights, group) in users.items():
            store.ensure_user(conn, f"load_{role}")
            store.save_project_user(conn, pid, f"load_{role}", rights, group)
            tokens[role] = create_project_token(conn, pid, f"load_{role}")
        save_reports(
            conn,
            pid,
            [
                ReportDefinition(title="everything", fields=[f.field_name for f in DICTIONARY]),
                ReportDefinition(
                    title="older women",
                    fields=["record_id", "age", "sex", "weight"],
                    filter_logic="[age] > 85 and [sex] = '1'",
                ),
            ],
        )
    engine.dispose()
    return tokens


def seed(url: str, owner: str) -> list[str]:
    """2,000 records (half per DAG) and 20 files, through the API; the records with a file."""
    rnd = random.Random(18)
    rows = [
        {
            "record_id": str(n),
            "name": f"Person {n}",
            "dob": f"19{rnd.randint(40, 99)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
            "age": str(rnd.randint(18, 90)),
            "sex": rnd.choice("12"),
            "weight": f"{rnd.uniform(40, 120):.1f}",
            "notes": "Seen at the clinic.\nNothing to report." if n % 3 else "",
            "redcap_data_access_group": "site_a" if n % 2 else "site_b",
            **{name: f"value {n} {name}" for name in VISIT_FIELDS},
        }
        for n in range(1, RECORDS + 1)
    ]
    for start in range(0, len(rows), 500):
        answer = requests.post(
            url,
            data={
                "token": owner,
                "content": "record",
                "format": "json",
                "data": json.dumps(rows[start : start + 500]),
            },
            timeout=300,
        )
        answer.raise_for_status()
    with_files = [str(n) for n in range(1, RECORDS + 1, RECORDS // FILES)]
    for record in with_files:
        answer = requests.post(
            url,
            data={
                "token": owner,
                "content": "file",
                "action": "import",
                "record": record,
                "field": "consent",
            },
            files={"file": ("consent.pdf", b"%PDF-1.4\n" + os.urandom(20_000))},
            timeout=60,
        )
        answer.raise_for_status()
    return with_files


def serve(setup: Setup, port: int, *options: str) -> subprocess.Popen:
    """A `localcap serve` as deployed: the schema migrated beforehand (``build_project``),
    the server only checking it; a rate limit that counts every call and refuses none."""
    command = [sys.executable, "-m", "localcap.cli", "serve", "--data-dir", str(setup.data_dir)]
    command += ["--port", str(port), "--rate-limit", "1000000", "--no-migrate", *options]
    if setup.database_url:
        command += ["--database-url", setup.database_url]
    env = {**os.environ, **setup.env}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    setup.processes.append(process)
    wait_for(f"http://127.0.0.1:{port}/api/")
    return process


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.post(url, data={}, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and all their descendants so far."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine since boot (/proc/stat)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run_locust(
    setup: Setup,
    tokens: dict[str, str],
    files: list[str],
    users: int,
    seconds: int,
    postgres_pid: int | None,
) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"locust-{setup.name}-"))
    acks = work / "acks.jsonl"
    env = {
        **os.environ,
        "LOADTEST_TOKENS": json.dumps(tokens),
        "LOADTEST_FILE_RECORDS": json.dumps(files),
        "LOADTEST_RECORDS": str(RECORDS),
        "LOADTEST_ACKS": str(acks),
    }
    host = setup.url.removesuffix("/api/")
    servers = [p.pid for p in setup.processes]
    databases = [postgres_pid] if postgres_pid and setup.database_url else []
    before = (cpu_seconds(servers), cpu_seconds(databases), machine_busy())
    locust_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            str(Path(sys.executable).with_name("locust")),
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            str(work / "stats"),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        check=False,  # non-zero when any request failed: the figures say which
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    locust_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy, total = machine_busy()
    cpu = {
        "servers_cores": (cpu_seconds(servers) - before[0]) / seconds,
        "postgres_cores": (cpu_seconds(databases) - before[1]) / seconds,
        "locust_cores": (
            locust_after.ru_utime
            + locust_after.ru_stime
            - locust_before.ru_utime
            - locust_before.ru_stime
        )
        / seconds,
        "machine_busy_percent": 100 * (busy - before[2][0]) / (total - before[2][1]),
    }
    with open(work / "stats_stats.csv", encoding="utf-8") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    return {"rows": rows, "acks": acks, "cpu": {k: round(v, 2) for k, v in cpu.items()}}


def verify(url: str, owner: str, acks: Path) -> tuple[int, int]:
    """(acknowledged writes, missing ones): records by their value, files by their hash."""
    lines = [json.loads(line) for line in acks.read_text().splitlines()] if acks.exists() else []
    records = {a["record"]: a["v01"] for a in lines if a["kind"] == "record"}
    missing = 0
    names = list(records)
    for start in range(0, len(names), 200):
        chunk = names[start : start + 200]
        answer = requests.post(
            url,
            data={
                "token": owner,
                "content": "record",
                "format": "json",
                "records": ",".join(chunk),
                "fields": "record_id,v01",
            },
            timeout=120,
        )
        stored = {row["record_id"]: row["v01"] for row in answer.json()}
        missing += sum(stored.get(name) != records[name] for name in chunk)
    uploads = [a for a in lines if a["kind"] == "file"]
    for upload in uploads:
        answer = requests.post(
            url,
            data={
                "token": owner,
                "content": "file",
                "action": "export",
                "record": upload["record"],
                "field": "consent",
            },
            timeout=60,
        )
        missing += hashlib.sha256(answer.content).hexdigest() != upload["sha256"]
    return len(lines), missing


@contextmanager
def moto() -> Iterator[dict[str, str]]:
    """moto's S3 server on loopback and the environment that points boto3 at it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        wait_for(env["AWS_ENDPOINT_URL"])
        yield env
    finally:
        process.terminate()
        process.wait()


def durable(pg: postgres.PostgresServer) -> None:
    """The throw-away cluster runs with fsync off; the load test measures it durable."""
    with pg.connect(autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = on")
        conn.execute("SELECT pg_reload_conf()")


def _boto(s3: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": s3["AWS_ENDPOINT_URL"],
        "aws_access_key_id": s3["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": s3["AWS_SECRET_ACCESS_KEY"],
        "region_name": s3["AWS_DEFAULT_REGION"],
    }


def _proxy(setup: Setup, port: int, backends: list[int]) -> int:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "rr_proxy.py"), str(port), *map(str, backends)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    setup.processes.append(process)
    wait_for(f"http://127.0.0.1:{port}/api/")
    return port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args()
    names = args.only or ["sqlite-1", "pg-1", "pg-2w", "pg-2p-s3"]
    pg = postgres.start_postgres()
    durable(pg)
    pg_pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0]) if pg.data_dir else None
    results = []
    try:
        with moto() as s3:
            for name in names:
                data_dir = Path(tempfile.mkdtemp(prefix=f"localcap-load-{name}-"))
                url = None
                if not name.startswith("sqlite"):
                    url = postgres.create_database(pg, name.replace("-", "_"))
                tokens = build_project(data_dir, url)
                setup = Setup(name, "", data_dir, url, {})
                try:
                    start(setup, s3)
                    files = seed(setup.url, tokens["owner"])
                    run = run_locust(setup, tokens, files, args.users, args.seconds, pg_pid)
                    acked, missing = verify(setup.url, tokens["owner"], run["acks"])
                    results.append(summary(name, run["rows"], acked, missing, args.seconds))
                    results[-1]["cpu"] = run["cpu"]
                    print(json.dumps(results[-1]), flush=True)
                finally:
                    for process in reversed(setup.processes):
                        process.terminate()
                        process.wait(timeout=60)
    finally:
        pg.stop()
    print(table(results))


def start(setup: Setup, s3: dict[str, str]) -> None:
    """Start the servers (and proxy) of one configuration on its built database."""
    port = free_port()
    if setup.name == "pg-2p-s3":
        import boto3

        bucket = f"localcap-load-{int(time.time())}"
        boto3.client("s3", **_boto(s3)).create_bucket(Bucket=bucket)
        setup.env = dict(s3)
        backends = [free_port(), free_port()]
        for backend in backends:
            serve(setup, backend, "--file-store", f"s3://{bucket}/files")
        _proxy(setup, port, backends)
    else:
        serve(setup, port, "--workers", "2" if setup.name == "pg-2w" else "1")
    setup.url = f"http://127.0.0.1:{port}/api/"


def summary(
    name: str, rows: dict[str, dict[str, str]], acked: int, missing: int, seconds: int
) -> dict:
    total = rows["Aggregated"]
    per_kind = {
        kind: {
            "n": int(row["Request Count"]),
            "p50": row["50%"],
            "p95": row["95%"],
            "p99": row["99%"],
            "fail": int(row["Failure Count"]),
        }
        for kind, row in rows.items()
        if kind != "Aggregated"
    }
    return {
        "config": name,
        "requests": int(total["Request Count"]),
        "per_second": round(int(total["Request Count"]) / seconds, 1),
        "p50_ms": total["50%"],
        "p95_ms": total["95%"],
        "p99_ms": total["99%"],
        "errors": int(total["Failure Count"]),
        "acknowledged_writes": acked,
        "missing_writes": missing,
        "per_kind": per_kind,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| configuration | requests | requests/s | p50 ms | p95 ms | p99 ms | errors "
        "| acknowledged writes | missing | CPU cores: servers / PostgreSQL / locust | machine busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['config']} | {r['requests']:,} | {r['per_second']} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {r['acknowledged_writes']:,} | "
            f"{r['missing_writes']} | {r['cpu']['servers_cores']} / {r['cpu']['postgres_cores']} / "
            f"{r['cpu']['locust_cores']} | {r['cpu']['machine_busy_percent']:.0f} % |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
