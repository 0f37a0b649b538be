"""Benchmark: what one small API call costs (issue 18, per-request overhead).

Export Records of one record of the demo project (``localcap serve --demo``'s), as the
issue measured it:

1. In process (uvicorn in a thread, the engine's events counted): SQL statements and
   transactions (BEGIN ... COMMIT/ROLLBACK) per call, the audit row included.
2. Against a ``localcap serve`` subprocess (one worker, the default rate limit raised so that
   it counts every call but refuses none): calls per second, p50 and p99, with 1 and with 4
   clients on keep-alive connections, for ``--seconds`` each.

Run: ``.venv/bin/python benchmarks/per_request.py [--postgres | --database-url URL]
[--seconds 10]`` (``--postgres``: a throw-away server, as the tests start, fsync off).
To measure older code, put its ``src`` and ``tests`` first on ``PYTHONPATH``: the server
subprocess is started with this interpreter and that path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from liveserver import free_port, start_server  # noqa: E402
from localcap.db.engine import open_database  # noqa: E402
from localcap.demo import OWNER, ensure_demo  # noqa: E402

CALL = {"content": "record", "format": "json", "records": "1", "returnFormat": "json"}


def demo_token(engine_url: str | None, data_dir: Path) -> str:
    engine = open_database(data_dir, engine_url)
    lines = list(ensure_demo(engine, "http://127.0.0.1/api/"))
    engine.dispose()
    owner = next(line for line in lines if line.strip().startswith(OWNER))
    return owner.split()[1]


def count_queries(
    data_dir: Path, url: str | None, token: str, rate_limit: int, calls: int = 50
) -> dict:
    server = start_server(
        data_dir, url, "sqlite" if url is None else "postgresql", rate_limit=rate_limit
    )
    counts = {"statements": 0, "begins": 0}

    def on_statement(*_args: object) -> None:
        counts["statements"] += 1

    def on_begin(*_args: object) -> None:
        counts["begins"] += 1

    event.listen(server.engine, "before_cursor_execute", on_statement)
    event.listen(server.engine, "begin", on_begin)
    try:
        with requests.Session() as session:
            session.post(server.url, data={"token": token, **CALL}, timeout=30).raise_for_status()
            counts.update(statements=0, begins=0)  # the first call fills caches: not counted
            for _ in range(calls):
                session.post(server.url, data={"token": token, **CALL}, timeout=30)
    finally:
        server.stop()
    return {key: value / calls for key, value in counts.items()}


def serve(data_dir: Path, url: str | None, port: int, rate_limit: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-c",
        "import sys; from localcap.cli import main; sys.exit(main())",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--rate-limit",
        str(rate_limit),
        *(["--database-url", url] if url else []),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://127.0.0.1:{port}/api/", data={}, timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def load(api: str, token: str, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client() -> None:
        mine: list[float] = []
        with requests.Session() as session:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                response = session.post(api, data={"token": token, **CALL}, timeout=30)
                mine.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "clients": clients,
        "per_second": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--postgres", action="store_true", help="a throw-away PostgreSQL (tests/support)"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate-limit", type=int, default=10**6, help="0: off (no counting at all)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="localcap-per-request-"))
    if args.postgres:
        from support import postgres

        args.database_url = postgres.create_database(postgres.start_postgres(), "per_request")
    token = demo_token(args.database_url, data_dir)
    print("per call:", count_queries(data_dir, args.database_url, token, args.rate_limit))
    port = free_port()
    process = serve(data_dir, args.database_url, port, args.rate_limit)
    try:
        api = f"http://127.0.0.1:{port}/api/"
        load(api, token, 1, 1.0)  # warm up
        for clients in (1, 4):
            print(load(api, token, clients, args.seconds))
    finally:
        process.terminate()
        process.wait()
    print("python", sys.version.split()[0], "cpus", os.cpu_count())


if __name__ == "__main__":
    main()
