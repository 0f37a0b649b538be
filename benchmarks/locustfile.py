"""The load test's users (locust), driven by ``benchmarks/load_test.py``.

A realistic mix on one generated project, from users with different rights (tokens from
``LOADTEST_TOKENS``): the owner (everything), a DAG user (its site's records only), a
de-identified reader and an export-only reader. They export single records and reports
(small and big), read metadata, import small batches of new records, upload and download
files. Every write the server acknowledges (a 200) is appended to ``LOADTEST_ACKS`` (one
JSON line), so that ``load_test.py`` can check afterwards that none is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import uuid

from locust import HttpUser, between, task

TOKENS: dict[str, str] = json.loads(os.environ.get("LOADTEST_TOKENS", "{}"))
#: Records that have a file in the ``consent`` field (uploaded before the run).
FILE_RECORDS: list[str] = json.loads(os.environ.get("LOADTEST_FILE_RECORDS", "[]"))
RECORDS = int(os.environ.get("LOADTEST_RECORDS", "1000"))
ACKS = os.environ.get("LOADTEST_ACKS", "acks.jsonl")


def acknowledge(kind: str, **what: str) -> None:
    """Note a write the server answered 200 (one line, appended and flushed at once)."""
    with open(ACKS, "a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, **what}) + "\n")


class ProjectUser(HttpUser):
    """A user of the project through its token; subclasses give the role and the mix."""

    abstract = True
    wait_time = between(0.0, 0.1)
    role = ""

    def call(self, name: str, **params: str) -> object:
        data = {"token": TOKENS[self.role], "format": "json", "returnFormat": "json", **params}
        return self.client.post("/api/", data=data, name=name)

    def export_record(self) -> None:
        self.call(
            "record export (1 record)", content="record", records=str(random.randint(1, RECORDS))
        )

    def metadata(self) -> None:
        self.call("metadata", content="metadata")

    def small_report(self) -> None:
        self.call("report small", content="report", report_id="2", format="csv")

    def big_report(self) -> None:
        self.call("report big", content="report", report_id="1", format="csv")

    def import_records(self) -> list[str]:
        """Three new records in one import; returns their names once acknowledged."""
        rows = [
            {
                "record_id": f"lt-{uuid.uuid4().hex[:12]}",
                "name": "Load Test",
                "age": str(random.randint(18, 90)),
                "v01": uuid.uuid4().hex,
            }
            for _ in range(3)
        ]
        response = self.call("record import (3 records)", content="record", data=json.dumps(rows))
        if response.status_code != 200:
            return []
        for row in rows:
            acknowledge("record", record=row["record_id"], v01=row["v01"])
        return [row["record_id"] for row in rows]

    def download_file(self) -> None:
        if FILE_RECORDS:
            record = random.choice(FILE_RECORDS)
            self.call(
                "file export", content="file", action="export", record=record, field="consent"
            )

    def upload_file(self, record: str) -> None:
        body = os.urandom(random.randint(1_000, 64_000))
        response = self.client.post(
            "/api/",
            data={
                "token": TOKENS[self.role],
                "content": "file",
                "action": "import",
                "record": record,
                "field": "consent",
                "returnFormat": "json",
            },
            files={"file": ("scan.bin", body, "application/octet-stream")},
            name="file import",
        )
        if response.status_code == 200:
            acknowledge("file", record=record, sha256=hashlib.sha256(body).hexdigest())


class Owner(ProjectUser):
    """Full rights: imports, uploads, every export."""

    weight = 3
    role = "owner"

    @task(10)
    def one_record(self) -> None:
        self.export_record()

    @task(4)
    def read_metadata(self) -> None:
        self.metadata()

    @task(4)
    def import_and_upload(self) -> None:
        created = self.import_records()
        if created and random.random() < 0.5:
            self.upload_file(created[0])

    @task(3)
    def report_small(self) -> None:
        self.small_report()

    @task(1)
    def report_big(self) -> None:
        self.big_report()

    @task(3)
    def file_export(self) -> None:
        self.download_file()


class SiteUser(ProjectUser):
    """A DAG user: sees and creates its site's records only."""

    weight = 3
    role = "site"

    @task(10)
    def one_record(self) -> None:
        self.export_record()

    @task(4)
    def import_new(self) -> None:
        self.import_records()

    @task(3)
    def report_small(self) -> None:
        self.small_report()

    @task(2)
    def read_metadata(self) -> None:
        self.metadata()


class DeidentifiedReader(ProjectUser):
    """De-identified exports only (identifiers, dates and notes left out); no imports."""

    weight = 2
    role = "deid"

    @task(8)
    def one_record(self) -> None:
        self.export_record()

    @task(3)
    def report_small(self) -> None:
        self.small_report()

    @task(1)
    def report_big(self) -> None:
        self.big_report()

    @task(2)
    def read_metadata(self) -> None:
        self.metadata()


class Reader(ProjectUser):
    """Full-data exports and file downloads, no imports."""

    weight = 2
    role = "reader"

    @task(8)
    def one_record(self) -> None:
        self.export_record()

    @task(4)
    def file_export(self) -> None:
        self.download_file()

    @task(2)
    def read_metadata(self) -> None:
        self.metadata()
