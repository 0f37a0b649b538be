"""Benchmark Export File end to end: a 1 GB file downloaded over HTTP from ``localcap serve``.

Usage::

    .venv/bin/python benchmarks/file_export.py [--size-mb 1024] [--runs 3] [--write-md]

What is measured, and why this way:

* The server is a real ``localcap serve`` subprocess (SQLite, local file store in a temporary
  data directory), the file is uploaded once through the API (``content=file&action=import``),
  then the server is **restarted** so that its peak RSS (VmHWM from /proc) covers only the
  downloads, not the upload's multipart parsing.
* Downloads are ``content=file&action=export`` with ``curl -o /dev/null`` (a C client, so the
  client does not limit the number) and with Python ``requests`` streaming in 1 MiB chunks
  (what PyCap-style scripts do, though PyCap itself buffers the whole body).
* The baseline is ``cat STOREDFILE > /dev/null`` on the very file the server streams, in the
  same run, so the ratio says how close the HTTP path gets to what the disk and kernel allow.
  All reads are warm (page cache): the first, untimed read warms it, so the ratio measures
  localcap's code path rather than the disk.
* Best of ``--runs`` for each row.

Targets (issue 5): throughput >= 50 % of ``cat``; server peak RSS < 150 MB.
``--write-md`` replaces the ``## File export (issue 5)`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

MB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent
LOCALCAP = [sys.executable, "-m", "localcap.cli"]
SECTION = "## File export (issue 5)"
MISSED_NOTE = """
Why the ">= 50 % of `cat`" target is missed, and why it cannot be met this way: `cat` from the
page cache is a memory copy (3-9 GB/s here, varying run to run on this VM), while *any* HTTP
download over loopback also pays for the TCP stack and the client on the same 2 vCPUs. The
"loopback ceiling" row is the best case for HTTP: a bare socket server that `sendfile()`s the
file (zero copies, no framework) to the same curl. It reaches well under half of `cat` by itself,
so the target sits above what the hardware allows an HTTP server. The fair yardstick is that
ceiling: localcap (Starlette on uvicorn with httptools and uvloop) streams at about the
ceiling's speed (see "vs ceiling"; with pure-Python h11 it was 40-80 %). Beyond it only a
zero-copy path could go (uvicorn does not implement ASGI's zero-copy send extension).
"""


def _hwm(pid: int) -> int:
    """Peak RSS (VmHWM) of a live process in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``localcap serve`` in a subprocess, on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/"
        self.proc = subprocess.Popen(
            [
                *LOCALCAP,
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--max-request-mb",
                "2048",  # the 1 GB upload
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("localcap serve did not start")

    def peak_rss(self) -> int:
        return _hwm(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


def _setup(data_dir: Path, size_mb: int, source: Path) -> tuple[str, str]:
    """Create a project with a file field and upload ``source``; returns (token, store path)."""
    super_token = subprocess.run(
        [*LOCALCAP, "token", "super", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    server = Server(data_dir)
    try:
        project = [{"project_title": "bench", "purpose": 0, "is_longitudinal": 0}]
        token = requests.post(
            server.url,
            data={
                "token": super_token,
                "content": "project",
                "format": "json",
                "data": json.dumps(project),
            },
            timeout=60,
        ).text
        metadata = [
            {
                "field_name": "record_id",
                "form_name": "f",
                "field_type": "text",
                "field_label": "ID",
            },
            {"field_name": "blob", "form_name": "f", "field_type": "file", "field_label": "Blob"},
        ]
        response = requests.post(
            server.url,
            data={
                "token": token,
                "content": "metadata",
                "format": "json",
                "data": json.dumps(metadata),
            },
            timeout=60,
        )
        response.raise_for_status()
        started = time.perf_counter()
        subprocess.run(
            [
                "curl", "-sS", "-f", "-o", os.devnull,
                "-F", f"token={token}", "-F", "content=file", "-F", "action=import",
                "-F", "record=1", "-F", "field=blob", "-F", f"file=@{source}",
                server.url,
            ],
            check=True,
        )  # fmt: skip
        print(f"upload of {size_mb} MB: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        server.stop()
    stored = [p for p in (data_dir / "files").rglob("*") if p.is_file()]
    (path,) = [p for p in stored if p.stat().st_size == size_mb * MB]
    return token, str(path)


def _time(command: list[str] | str, shell: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, shell=shell, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _curl(url: str, token: str, expected: int) -> float:
    data = f"token={token}&content=file&action=export&record=1&field=blob"
    out = subprocess.run(
        ["curl", "-sS", "-f", "-o", os.devnull, "-w", "%{size_download} %{time_total}",
         "-d", data, url],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert int(out[0]) == expected, out
    return float(out[1])


def _sendfile_ceiling(path: str, size: int) -> float:
    """curl against a minimal HTTP responder that ``sendfile()``s the same file: the most any
    HTTP server can give on this machine's loopback (zero copies, no framework), timed by curl."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, open(path, "rb") as source:
            conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            conn.sendall(head.encode())
            offset = 0
            while offset < size:
                offset += os.sendfile(conn.fileno(), source.fileno(), offset, size - offset)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    out = subprocess.run(
        ["curl", "-sS", "-o", os.devnull, "-w", "%{size_download} %{time_total}",
         f"http://127.0.0.1:{port}/"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    thread.join()
    listener.close()
    assert int(out[0]) == size, out
    return float(out[1])


def _requests(url: str, token: str, expected: int) -> float:
    data = {"token": token, "content": "file", "action": "export", "record": "1", "field": "blob"}
    started = time.perf_counter()
    got = 0
    with requests.post(url, data=data, stream=True, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(MB):
            got += len(chunk)
    assert got == expected
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-md", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        sys.exit("curl is needed")
    size = args.size_mb * MB
    with tempfile.TemporaryDirectory(prefix="localcap-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        block = os.urandom(MB)
        with source.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(block)
        data_dir = work / "data"
        token, stored = _setup(data_dir, args.size_mb, source)
        source.unlink()
        server = Server(data_dir)  # fresh process: its peak RSS covers downloads only
        try:
            idle_rss = server.peak_rss()
            _time(f"cat {stored} > /dev/null", shell=True)  # warm the page cache
            cat = min(_time(f"cat {stored} > /dev/null", shell=True) for _ in range(args.runs))
            ceiling = min(_sendfile_ceiling(stored, size) for _ in range(args.runs))
            curl = min(_curl(server.url, token, size) for _ in range(args.runs))
            py = min(_requests(server.url, token, size) for _ in range(args.runs))
            peak = server.peak_rss()
        finally:
            server.stop()
    rows = [
        ("`cat FILE > /dev/null` (baseline)", cat, "-"),
        ("loopback ceiling: bare `sendfile()` responder -> curl", ceiling, "-"),
        ("Export File, `curl -o /dev/null`", curl, f"{peak / MB:.0f} MB"),
        ("Export File, `requests` streaming 1 MiB chunks", py, f"{peak / MB:.0f} MB"),
    ]
    lines = [
        "| read | seconds | MB/s | vs cat | vs ceiling | server peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, rss in rows:
        lines.append(
            f"| {label} | {seconds:.2f} | {args.size_mb / seconds:,.0f} | "
            f"{cat / seconds * 100:.0f} % | {ceiling / seconds * 100:.0f} % | {rss} |"
        )
    table = "\n".join(lines)
    print(table)
    ok_speed = cat / curl >= 0.5
    ok_rss = peak < 150 * MB
    print(
        f"\nserver idle RSS {idle_rss / MB:.0f} MB, peak {peak / MB:.0f} MB; "
        f"targets: >= 50 % of cat {'met' if ok_speed else 'MISSED'}, "
        f"peak RSS < 150 MB {'met' if ok_rss else 'MISSED'}"
    )
    if args.write_md:
        _write_section(table, args, idle_rss, peak, ok_speed, ok_rss, cat / curl, ceiling / curl)


def _write_section(
    table: str,
    args: argparse.Namespace,
    idle_rss: int,
    peak: int,
    ok_speed: bool,
    ok_rss: bool,
    ratio: float,
    ceiling_ratio: float,
) -> None:
    cpu = platform.processor() or platform.machine()
    text = f"""{SECTION}

`benchmarks/file_export.py`: a {args.size_mb} MB file (random bytes) uploaded once through
Export File's sibling Import File, then downloaded with `content=file&action=export` from a
fresh `localcap serve` process (SQLite, local file store, one worker, httptools + uvloop) over loopback, beside
`cat FILE > /dev/null` on the stored file in the same run. Warm page cache, best of {args.runs}.
Python {platform.python_version()}, {os.cpu_count()} vCPU {cpu}.

{table}

Targets: throughput >= 50 % of `cat` ({"met" if ok_speed else "**missed**"}: curl at
{ratio * 100:.0f} %); server peak RSS < 150 MB ({"met" if ok_rss else "**missed**"}: idle
{idle_rss / MB:.0f} MB, {peak / MB:.0f} MB after all downloads). Memory stays flat because the
body is streamed from the store in 1 MiB chunks (`StreamingResponse` over `store.open()`), with
`Content-Length` from the database so no chunked encoding is needed.
{"" if ok_speed else MISSED_NOTE}Re-run: `.venv/bin/python benchmarks/file_export.py --write-md`.
"""
    path = ROOT / "BENCHMARKS.md"
    current = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: text + "\n", current).rstrip("\n") + "\n"
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
