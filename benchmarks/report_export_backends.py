"""Benchmark: the same big report export on SQLite and on PostgreSQL (issue 18).

The project of ``report_export.py`` (100,000 records x 200 fields by default, same seed, same
values) is written into a fresh SQLite database and into a fresh PostgreSQL database (a
throw-away cluster started as the tests start theirs: loopback, ``fsync=off``, which changes
nothing for a read-only export), each at rest (checkpointed / vacuumed and analysed). Then for
each backend in turn a ``localcap serve`` subprocess (one worker) streams the report to curl,
in CSV and JSON, best of ``runs``; the server's peak RSS (VmHWM) is read from /proc before
and after.

Run: ``.venv/bin/python benchmarks/report_export_backends.py [records] [fields] [runs]``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from report_export import build, export, free_port, peak_rss_mb  # noqa: E402

from support import postgres  # noqa: E402


def measure(data_dir: Path, url: str | None, token: str, runs: int) -> dict[str, object]:
    port = free_port()
    command = [sys.executable, "-m", "localcap.cli", "serve", "--data-dir", str(data_dir)]
    command += ["--port", str(port), *(["--database-url", url] if url else [])]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api/"
    try:
        for _ in range(300):
            try:
                requests.post(api, data={"token": token, "content": "version"}, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        idle = peak_rss_mb(server.pid)
        result: dict[str, object] = {"idle_rss_mb": round(idle)}
        for fmt in ("csv", "json"):
            best = min((export(api, token, fmt) for _ in range(runs)), key=lambda r: r[1])
            result[fmt] = {"seconds": round(best[1], 2), "first_byte_ms": round(best[0] * 1000)}
            result[f"{fmt}_mb"] = round(best[2] / 1e6)
        result["peak_rss_mb"] = round(peak_rss_mb(server.pid))
        return result
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    n_records = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_fields = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    pg = postgres.start_postgres()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for backend in ("sqlite", "postgresql"):
                data_dir = Path(tmp) / backend
                url = postgres.create_database(pg, "report_bench") if backend != "sqlite" else None
                started = time.perf_counter()
                token, _, _ = build(data_dir, n_records, n_fields, url, keep_rows=False)
                built = time.perf_counter() - started
                print(f"{backend}: built in {built:.0f} s", file=sys.stderr)
                results[backend] = measure(data_dir, url, token, runs)
                print(backend, results[backend], flush=True)
    finally:
        pg.stop()
    for fmt in ("csv", "json"):
        ratio = results["postgresql"][fmt]["seconds"] / results["sqlite"][fmt]["seconds"]
        print(f"{fmt}: PostgreSQL / SQLite = {ratio:.2f}")


if __name__ == "__main__":
    main()
