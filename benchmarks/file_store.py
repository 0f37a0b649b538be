"""Benchmark the local file store: write 1 GB through put(), read it back through open().

Usage::

    .venv/bin/python benchmarks/file_store.py [--size-mb 1024] [--dir /path/on/target/disk]

Prints a markdown table comparing localcap's store with ``cat FILE > /dev/null`` on the same
file in the same run, so the numbers say how close the store gets to what the disk and kernel
allow, not just an absolute MB/s that depends on the machine.

Method, and why:

* Each measured step runs in its own child process and its peak RSS is the child's VmHWM
  (polled from /proc, and self-reported by Python children): the same measure for Python and
  for ``cat``, untouched by what the parent did before. A "python + imports" row gives the interpreter's own floor,
  so what the store adds is the difference.
* Python steps time the operation inside the child (interpreter start-up excluded); ``cat``
  is timed around the process (its start-up is ~1 ms).
* ``put()`` includes SHA-256 of the stream, ``fsync`` and the atomic rename: the price of the
  durability guarantees, measured, not hidden.
* Reads run twice: *cold* (the file's pages evicted with ``posix_fadvise(DONTNEED)``, no root
  needed) and *warm* (page cache). Cold is what a server sees for a file nobody read lately;
  warm is the pure code-path overhead.

This is the store part only; the end-to-end HTTP download benchmark comes with the API.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MB = 1 << 20


def _child(args: argparse.Namespace) -> None:
    """Run one step in this (child) process and print its result as JSON."""
    from localcap.files.local import LocalFileStore

    store = LocalFileStore(Path(args.root))
    if args.phase == "imports":
        print(json.dumps({"seconds": 0.0, "peak_rss": _hwm("self")}))
        return
    if args.phase == "put":
        # One random block, repeated: the data source must not weigh in the measured RSS.
        block = os.urandom(MB)

        def stream() -> Iterator[bytes]:
            for _ in range(args.size_mb):
                yield block

        start = time.perf_counter()
        stored = store.put(stream())
        seconds = time.perf_counter() - start
        result = {"seconds": seconds, "key": stored.key, "sha256": stored.sha256}
        print(json.dumps({**result, "peak_rss": _hwm("self")}))
        return
    start = time.perf_counter()
    digest = hashlib.sha256() if args.phase == "open-sha256" else None
    total = 0
    for chunk in store.open(args.key):
        total += len(chunk)
        if digest is not None:
            digest.update(chunk)
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "bytes": total, "peak_rss": _hwm("self")}
    if digest is not None:
        result["sha256"] = digest.hexdigest()
    print(json.dumps(result))


def _hwm(pid: int | str) -> int:
    """Peak RSS (VmHWM) of a live process in bytes, 0 if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _run(command: list[str], stdout: int | None = subprocess.PIPE) -> tuple[float, int, str]:
    """Run a child; return (wall seconds, peak RSS in bytes, stdout).

    Peak RSS is the child's VmHWM polled from /proc every millisecond, and for Python children
    also self-reported at exit (``peak_rss`` in their JSON). Not ``ru_maxrss``: on Linux that
    includes the parent's RSS inherited across vfork+exec, which made ``cat`` look 17 MiB big.
    """
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=stdout, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _hwm(process.pid))
        time.sleep(0.001)
    wall = time.perf_counter() - start
    output = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]}... failed with {process.returncode}")
    if output:
        peak = max(peak, json.loads(output).get("peak_rss", 0))
    return wall, peak, output


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--dir", help="directory on the disk to measure (default: a temp dir)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        _child(args)
        return

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="localcap-bench-") as workdir:
        root = Path(workdir) / "files"
        me = [sys.executable, __file__, "--root", str(root), "--size-mb", str(args.size_mb)]
        size = args.size_mb * MB
        rows: list[tuple[str, float | None, int]] = []

        _wall, rss, _out = _run([*me, "--phase", "imports"])
        rows.append(("python + imports (floor)", None, rss))

        _wall, rss, out = _run([*me, "--phase", "put"])
        put = json.loads(out)
        key = put["key"]
        path = root / key[:2] / key[2:4] / key
        rows.append(("put() write + sha256 + fsync", put["seconds"], rss))

        for cache in ("cold", "warm"):
            if cache == "cold":
                _evict(path)
            _wall, rss, out = _run([*me, "--phase", "open", "--key", key])
            rows.append((f"open() read, {cache}", json.loads(out)["seconds"], rss))
            if cache == "cold":
                _evict(path)
            with open(os.devnull, "wb") as devnull:
                wall, rss, _out = _run(["cat", str(path)], stdout=devnull.fileno())
            rows.append((f"`cat FILE > /dev/null`, {cache}", wall, rss))

        _wall, rss, out = _run([*me, "--phase", "open-sha256", "--key", key])
        checked = json.loads(out)
        assert checked["sha256"] == put["sha256"], "read-back hash differs from put()"
        rows.append(("open() + sha256 (verify), warm", checked["seconds"], rss))

    print(f"File store benchmark: {args.size_mb} MiB, local disk ({workdir})\n")
    print("| step | time (s) | throughput (MiB/s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    for name, seconds, rss in rows:
        if seconds is None:
            print(f"| {name} | | | {rss / MB:.1f} |")
        else:
            print(f"| {name} | {seconds:.2f} | {size / MB / seconds:,.0f} | {rss / MB:.1f} |")


if __name__ == "__main__":
    main()
