"""Survey pages under simultaneous respondents (RELIABILITY.md, "Survey pages").

For each backend: LINKS survey links, each posted CLIENTS times at once (a barrier) by
separate browser sessions completing the survey; counts answers by status, completions in the
audit log, and checks each record holds exactly one client's answer. Then access-code guesses
with forged X-Forwarded-For from one address.

    .venv/bin/python benchmarks/survey_stress.py [--clients 20] [--links 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "surveys")]

from survey_helpers import link_for, open_form, post_page, survey_project  # noqa: E402

from liveserver import start_server  # noqa: E402
from support import postgres  # noqa: E402


def run(server, clients: int, links: int) -> dict[str, object]:  # noqa: ANN001
    api = survey_project(server)
    records = [str(100 + n) for n in range(links)]
    api.import_json("record", [{"record_id": r} for r in records])
    pages = []
    for r in records:
        link = link_for(api, r)
        for _ in range(clients):
            session, page, token = open_form(link)
            session.close()  # no idle keep-alive connection for the server to time out
            pages.append((r, link, session, page, token))
    barrier = threading.Barrier(len(pages))
    statuses: Counter[int | str] = Counter()
    lock = threading.Lock()

    def post(item) -> None:  # noqa: ANN001
        record_id, link, session, page, _ = item
        barrier.wait()
        try:
            status: int | str = post_page(
                session, link, page, full_name=f"client of {record_id}"
            ).status_code
        except OSError as exc:  # requests' ConnectionError is one
            status = type(exc).__name__
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=post, args=(p,)) for p in pages]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    log = api.json(content="log", logtype="record_edit")
    completions = Counter(
        e["details"].split("record ")[1].split(",")[0]
        for e in log
        if "Survey response completed" in e["details"]
    )
    saved = api.json(content="record", records=",".join(records))
    return {
        "posts": len(pages),
        "statuses": dict(statuses),
        "completions per link": sorted(Counter(completions[r] for r in records).items()),
        "records with one answer": sum(r["intake_complete"] == "2" for r in saved),
        "seconds": round(elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--links", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "sqlite", None, "sqlite")
        try:
            print("sqlite", run(server, args.clients, args.links))
        finally:
            server.stop()
        pg = postgres.start_postgres()
        try:
            url = postgres.create_database(pg, "survey_stress")
            server = start_server(Path(tmp) / "pg", url, "postgresql")
            try:
                print("postgresql", run(server, args.clients, args.links))
            finally:
                server.stop()
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
