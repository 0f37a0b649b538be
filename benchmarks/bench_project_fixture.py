"""Benchmark: what a fresh ``localcap_project`` costs a test (the pytest plugin, issue 19).

Why: the fixture gives every test its own project, copied from a template built once per
session (Create Project from the template's project XML, Import Users, the user-role and
user-DAG mappings, a token per user). The target is < 0.5 s per copy. Measured against a
``localcap serve`` subprocess started by the plugin's own ``start_server`` (SQLite, default
settings), for three projects:

1. the default project (one field, no users);
2. a described project: the 16-field clinical dictionary, 2 DAGs, a role, 4 users (one in a
   DAG, one in the role), 50 records;
3. PyCap's longitudinal test project XML (2 arms, events, its records) with 2 users.

For each: the template's build (once), then N copies: median, 95th percentile and worst.

Run: ``.venv/bin/python benchmarks/bench_project_fixture.py [copies]`` (default 30).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from builders import CLINICAL_DICTIONARY  # noqa: E402
from liveserver import REDCAP_PROJECTS  # noqa: E402
from localcap.testing import ProjectSpec, User, start_server  # noqa: E402
from localcap.testing.project import fresh_project  # noqa: E402

SPECS = {
    "default (1 field, no users)": ProjectSpec(),
    "described: 16 fields, 2 DAGs, 1 role, 4 users, 50 records": ProjectSpec(
        fields=CLINICAL_DICTIONARY,
        dags=["Site A", "Site B"],
        roles=[{"role_label": "Monitor", "api_export": 1}],
        users=[
            User("full"),
            User("site_a", dag="Site A"),
            User("deid", {"forms_export": {"demographics": 2}}),
            User("monitor", role="Monitor"),
        ],
        records=[
            {
                "record_id": str(i),
                "first_name": f"N{i}",
                "weight": str(50 + i % 40),
                "height": "1.7",
                "sex": str(i % 2),
                "race___1": "1",
            }
            for i in range(1, 51)
        ],
    ),
    "PyCap's longitudinal project XML, 2 users": ProjectSpec(
        xml=REDCAP_PROJECTS / "pycap_test_long_project.xml", users=[User("a"), User("b")]
    ),
}


def measure(copies: int) -> list[str]:
    server = start_server()
    lines = [
        "| project | template build (once) | copy: median | p95 | worst |",
        "|---|---:|---:|---:|---:|",
    ]
    try:
        for label, spec in SPECS.items():
            start = time.perf_counter()
            fresh_project(server, spec)
            build = time.perf_counter() - start
            times = []
            for _ in range(copies):
                start = time.perf_counter()
                fresh_project(server, spec)
                times.append(time.perf_counter() - start)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            lines.append(
                f"| {label} | {build * 1000:.0f} ms | {statistics.median(times) * 1000:.0f} ms "
                f"| {p95 * 1000:.0f} ms | {times[-1] * 1000:.0f} ms |"
            )
    finally:
        server.stop()
    return lines


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print("\n".join(measure(count)))
