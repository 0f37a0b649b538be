"""Benchmark: Import Records of many records in one call, on SQLite and on PostgreSQL.

A classic project of 25 text fields; ``records`` records imported in one JSON call (creating
them), then the same records with new values (updating them), through the API of a server
in this process (uvicorn in a thread), best of ``runs`` fresh projects. PostgreSQL is a
throw-away cluster on loopback with durability on.

Run: ``.venv/bin/python benchmarks/record_import_backends.py [records] [runs]``. To measure
older code, put its ``src`` and ``tests`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]
from builders import create_project  # noqa: E402
from liveserver import start_server  # noqa: E402
from support import postgres  # noqa: E402

FIELDS = ["record_id", *(f"f{n:02d}" for n in range(1, 25))]


def one_run(url: str | None, n_records: int) -> tuple[float, float]:
    server = start_server(Path(tempfile.mkdtemp()), url, "sqlite" if url is None else "postgresql")
    try:
        api = create_project(server)
        metadata = [
            {"field_name": f, "form_name": "form", "field_type": "text", "field_label": f}
            for f in FIELDS
        ]
        api.import_json("metadata", metadata)
        seconds = []
        for version in ("a", "b"):
            rows = [
                {"record_id": str(n), **{f: f"{version}{n}-{f}" for f in FIELDS[1:]}}
                for n in range(1, n_records + 1)
            ]
            started = time.perf_counter()
            answer = api.call(content="record", format="json", data=json.dumps(rows))
            seconds.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text
        return seconds[0], seconds[1]
    finally:
        server.stop()


def main() -> None:
    n_records = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    pg = postgres.start_postgres()
    try:
        with pg.connect(autocommit=True) as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(f"ALTER SYSTEM SET {setting} = on")
            conn.execute("SELECT pg_reload_conf()")
        for backend in ("sqlite", "postgresql"):
            results = []
            for run in range(runs):
                url = None if backend == "sqlite" else postgres.create_database(pg, f"imp_{run}")
                results.append(one_run(url, n_records))
            create = min(r[0] for r in results)
            update = min(r[1] for r in results)
            print(
                f"{backend}: {n_records} records x {len(FIELDS)} fields: "
                f"create {create:.2f} s ({n_records / create:,.0f} records/s), "
                f"update {update:.2f} s ({n_records / update:,.0f} records/s)",
                flush=True,
            )
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
