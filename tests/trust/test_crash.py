"""Crash safety: a server killed with SIGKILL mid-import, 50 times, never leaves a half write.

A client imports batches of records (100 records per batch, one transaction) and uploads files
while the server process is SIGKILLed at random moments. After every restart: each batch is
there entirely or not at all, every record has all its values, and `localcap files verify`
finds every stored file whole (bytes are written and fsynced before the database points at
them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from liveserver import free_port, new_super_token, spawn_cli_server
from localcap.cli import main

KILLS = 50
BATCH = 100


def start(data_dir: Path, port: int) -> subprocess.Popen:
    return spawn_cli_server(data_dir, port, "--rate-limit", "0")


def batch_rows(batch: int) -> list[dict[str, str]]:
    return [
        {
            "record_id": f"{batch}-{i}",
            "first_name": f"b{batch}",
            "notes": f"b{batch}",
            "email": f"b{batch}@x.org",
        }
        for i in range(BATCH)
    ]


def client(
    url: str,
    token: str,
    stop: threading.Event,
    counter: list[int],
    acked: set[str],
    acked_files: dict[str, bytes],
) -> None:
    """Import batch after batch and upload files until stopped; errors are expected. What the
    server acknowledged (200) goes into ``acked`` (batches) and ``acked_files`` (record: bytes):
    it must survive the kill."""
    rng = random.Random(1)
    while not stop.is_set():
        batch = counter[0]
        counter[0] += 1
        try:
            imported = requests.post(
                url,
                data={
                    "token": token,
                    "content": "record",
                    "format": "json",
                    "data": json.dumps(batch_rows(batch)),
                },
                timeout=10,
            )
            if imported.status_code == 200:
                acked.add(str(batch))
            content = rng.randbytes(rng.randint(1, 400_000))
            uploaded = requests.post(
                url,
                data={
                    "token": token,
                    "content": "file",
                    "action": "import",
                    "record": f"{batch}-0",
                    "field": "scan",
                },
                files={"file": ("scan.bin", content)},
                timeout=10,
            )
            if uploaded.status_code == 200:
                acked_files[f"{batch}-0"] = content
        except requests.RequestException:
            time.sleep(0.01)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_never_leaves_half_writes(tmp_path):
    data_dir = tmp_path / "data"
    super_token = new_super_token(data_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/"
    server = start(data_dir, port)
    token = requests.post(
        url,
        data={
            "token": super_token,
            "content": "project",
            "format": "json",
            "data": '[{"project_title": "crash", "purpose": 0}]',
        },
        timeout=30,
    ).text
    from builders import CLINICAL_DICTIONARY

    requests.post(
        url,
        data={
            "token": token,
            "content": "metadata",
            "format": "json",
            "data": json.dumps(CLINICAL_DICTIONARY),
        },
        timeout=30,
    ).raise_for_status()
    rng = random.Random(7)
    counter = [0]
    acked: set[str] = set()
    acked_files: dict[str, bytes] = {}
    try:
        for _ in range(KILLS):
            stop = threading.Event()
            thread = threading.Thread(
                target=client, args=(url, token, stop, counter, acked, acked_files)
            )
            thread.start()
            time.sleep(rng.uniform(0.05, 0.4))
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
            stop.set()
            thread.join(timeout=30)
            server = start(data_dir, port)
            rows = requests.post(
                url,
                data={
                    "token": token,
                    "content": "record",
                    "format": "json",
                    "fields[0]": "record_id",
                    "fields[1]": "first_name",
                    "fields[2]": "notes",
                    "fields[3]": "email",
                },
                timeout=60,
            ).json()
            by_batch: dict[str, list[dict[str, str]]] = {}
            for row in rows:
                assert row["first_name"] == row["notes"] == row["email"].split("@")[0], row
                by_batch.setdefault(row["record_id"].split("-")[0], []).append(row)
            for batch, members in by_batch.items():
                assert len(members) == BATCH, f"batch {batch} is half there: {len(members)}"
            lost = acked - set(by_batch)
            assert not lost, f"acknowledged batches lost by the kill: {sorted(lost)}"
    finally:
        server.kill()
        server.wait()
    assert counter[0] > KILLS  # imports really were under way
    assert acked and acked_files  # and acknowledged before kills
    server = start(data_dir, port)
    try:
        for record, content in acked_files.items():
            stored = requests.post(
                url,
                data={
                    "token": token,
                    "content": "file",
                    "action": "export",
                    "record": record,
                    "field": "scan",
                },
                timeout=60,
            )
            assert stored.status_code == 200 and stored.content == content, record
    finally:
        server.kill()
        server.wait()
    verify = CliRunner().invoke(main, ["files", "verify", "--data-dir", str(data_dir)])
    assert verify.exit_code == 0, verify.output
    checked = int(verify.output.strip().splitlines()[-1].split()[0])
    assert checked > 0  # files were really stored between the kills
