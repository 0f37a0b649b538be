"""Benchmark: import a big REDCap project XML with `localcap project import`, in flat memory.

Why: users bring whole projects over as one XML file (issue 6). The importer parses it as a
stream (expat, fed in chunks) and writes records in batches, so its memory must not grow with
the file. The file is generated from PyCap's real "simple project" XML: its metadata as is,
then N records whose values (a long comments field among them) make the file the asked size.

Run: ``.venv/bin/python benchmarks/project_import.py [megabytes] [--raw-breaks]`` (default 300;
``--raw-breaks`` writes each note's line break raw, as REDCap does, instead of as ``&#10;``:
the byte filter then escapes one line break per record). Prints the
file size, the import time and MB/s, the importer's CPU time (user + system, from the child's
resource usage: on a shared machine it moves less than the wall time) and its peak RSS (from
``/usr/bin/time``-free ``/proc`` polling of the child), beside the same command on a tiny file,
and the machine's load average before and after.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "redcap_projects" / "pycap_test_simple_project.xml"
COMMENT = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 70  # ~4 KB


def subject(n: int, newline: str = "&#10;") -> str:
    return (
        f'\t<SubjectData SubjectKey="{n}" redcap:RecordIdField="record_id">\n'
        '\t\t<FormData FormOID="Form.demographics" FormRepeatKey="1">\n'
        '\t\t\t<ItemGroupData ItemGroupOID="demographics.record_id" ItemGroupRepeatKey="1">\n'
        f'\t\t\t\t<ItemData ItemOID="record_id" Value="{n}"/>\n'
        f'\t\t\t\t<ItemData ItemOID="first_name" Value="Name{n}"/>\n'
        f'\t\t\t\t<ItemData ItemOID="last_name" Value="Test{n}"/>\n'
        '\t\t\t\t<ItemData ItemOID="email" Value="someone@example.org"/>\n'
        '\t\t\t\t<ItemData ItemOID="dob" Value="1990-01-02"/>\n'
        f'\t\t\t\t<ItemData ItemOID="sex" Value="{n % 2}"/>\n'
        f'\t\t\t\t<ItemData ItemOID="comments" Value="{COMMENT}{newline}record {n}"/>\n'
        '\t\t\t\t<ItemData ItemOID="demographics_complete" Value="2"/>\n'
        "\t\t\t</ItemGroupData>\n\t\t</FormData>\n\t</SubjectData>\n"
    )


def generate(path: Path, megabytes: int, newline: str = "&#10;") -> int:
    text = FIXTURE.read_text(encoding="utf-8")
    head = text[: text.index("<ClinicalData")]
    clinical = text[text.index("<ClinicalData") : text.index(">", text.index("<ClinicalData")) + 1]
    records = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(head + clinical + "\n")
        while out.tell() < megabytes << 20:
            records += 1
            out.write(subject(records, newline))
        out.write("</ClinicalData>\n</ODM>")
    return records


def run_import(xml: Path, data_dir: Path) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, peak RSS MB, output) of one `localcap project import`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localcap.cli",
            "project",
            "import",
            str(xml),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = 0
    status = Path(f"/proc/{child.pid}/status")
    while child.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.05)
    output = child.communicate()[0]
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"import failed:\n{output}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return seconds, cpu, peak / 1024, output


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--raw-breaks"]
    megabytes = int(args[0]) if args else 300
    newline = "\n" if "--raw-breaks" in sys.argv else "&#10;"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        small, big = tmp_dir / "small.xml", tmp_dir / "big.xml"
        generate(small, 1, newline)
        records = generate(big, megabytes, newline)
        size = big.stat().st_size / (1 << 20)
        load_before = os.getloadavg()[0]
        small_time, small_cpu, small_rss, _ = run_import(small, tmp_dir / "data-small")
        seconds, cpu, rss, output = run_import(big, tmp_dir / "data-big")
        assert f"({records} records" in output, output
    breaks = "raw line breaks" if newline == "\n" else "line breaks as &#10;"
    print(f"notes with {breaks}; load average (1 min) before {load_before:.2f}, ", end="")
    print(f"after {os.getloadavg()[0]:.2f}")
    print("| file | records | seconds | MB/s | CPU s (user+sys) | importer peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| 1 MB project XML | - | {small_time:.1f} | - | {small_cpu:.1f} | {small_rss:.0f} MB |")
    print(
        f"| {size:,.0f} MB project XML | {records:,} | {seconds:.1f} | {size / seconds:.1f} "
        f"| {cpu:.1f} | {rss:.0f} MB |"
    )


if __name__ == "__main__":
    main()
