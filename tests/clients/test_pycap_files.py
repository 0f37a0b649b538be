"""Unmodified PyCap's file methods against the running server (classic and longitudinal).

PyCap reads the file name out of ``Content-Type`` by splitting on ``;`` and ``=``; its doctest
records the shape ``(b'test upload\\n', {'name': 'test_upload.txt', 'charset': 'UTF-8'})``.
Its ``import_file``/``delete_file`` return ``[{}]`` whatever the body, and it detects an export
error by ``<error>`` in the body (no ``returnFormat`` is sent, so errors come back as XML).
"""

from __future__ import annotations

import io

import pytest
from redcap import Project, RedcapError

from builders import clinical_classic, clinical_longitudinal


@pytest.fixture
def classic(server) -> Project:
    api = clinical_classic(server)
    api.import_json("record", [{"record_id": "1", "first_name": "Ada"}])
    return Project(server.url, api.token)


@pytest.fixture
def longitudinal(server) -> Project:
    api = clinical_longitudinal(server)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    return Project(server.url, api.token)


def test_doctest_shape_classic(classic: Project):
    assert classic.import_file(
        record="1", field="scan", file_name="test_upload.txt", file_object=io.BytesIO(b"test upload\n")
    ) == [{}]  # fmt: skip
    assert classic.export_file(record="1", field="scan") == (
        b"test upload\n",
        {"name": "test_upload.txt", "charset": "UTF-8"},
    )
    records = classic.export_records(fields=["record_id", "scan"])
    assert records[0]["scan"] == "test_upload.txt"
    assert classic.delete_file(record="1", field="scan") == [{}]
    assert classic.export_records(fields=["record_id", "scan"])[0]["scan"] == ""
    with pytest.raises(RedcapError, match="There is no file to download for this record"):
        classic.export_file(record="1", field="scan")


def test_doctest_shape_longitudinal(longitudinal: Project):
    event = "baseline_arm_1"
    assert longitudinal.import_file(
        record="1", field="scan", file_name="test_upload.txt",
        file_object=io.BytesIO(b"test upload\n"), event=event,
    ) == [{}]  # fmt: skip
    assert longitudinal.export_file(record="1", field="scan", event=event) == (
        b"test upload\n",
        {"name": "test_upload.txt", "charset": "UTF-8"},
    )
    assert longitudinal.delete_file(record="1", field="scan", event=event) == [{}]
    with pytest.raises(RedcapError, match="There is no file to download"):
        longitudinal.export_file(record="1", field="scan", event=event)


def test_binary_files_and_repeating_event(longitudinal: Project):
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    longitudinal.import_file(
        record="1", field="signature", file_name="sig.png", file_object=io.BytesIO(image),
        event="baseline_arm_1",
    )  # fmt: skip
    content, info = longitudinal.export_file(record="1", field="signature", event="baseline_arm_1")
    assert content == image and info == {"name": "sig.png"}
    for instance in (1, 2):
        longitudinal.import_file(
            record="1", field="scan", file_name=f"v{instance}.bin",
            file_object=io.BytesIO(bytes([instance]) * 1000), event="visit_2_arm_1",
            repeat_instance=instance,
        )  # fmt: skip
    content, info = longitudinal.export_file(
        record="1", field="scan", event="visit_2_arm_1", repeat_instance=2
    )
    assert content == b"\x02" * 1000 and info["name"] == "v2.bin"


def test_pycap_errors(classic: Project):
    with pytest.raises(RedcapError, match='The record "404" does not exist'):
        classic.export_file(record="404", field="scan")
    # PyCap itself refuses non-file fields before calling the API.
    with pytest.raises(ValueError):
        classic.export_file(record="1", field="weight")


def test_import_creates_the_record(classic: Project):
    classic.import_file(
        record="77", field="scan", file_name="new.txt", file_object=io.BytesIO(b"fresh")
    )
    assert classic.export_file(record="77", field="scan")[0] == b"fresh"
    ids = [r["record_id"] for r in classic.export_records(fields=["record_id"])]
    assert "77" in ids
