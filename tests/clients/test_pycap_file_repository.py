"""Unmodified PyCap's File Repository methods against the running server.

The same calls as PyCap's integration fixture ``add_files_to_repository`` (one temporary file
uploaded twice, so the second upload is empty) and its docstring examples, recorded against a
real REDCap: ``[{'folder_id': ...}]``, a listing led by ``'New Folder'``, ``(b'hello',
{'name': 'test.txt', 'charset': 'UTF-8'})``, and ``[{}]`` from import and delete.
"""

from __future__ import annotations

import io
import tempfile

import pytest
from redcap import Project, RedcapError

from builders import create_project


@pytest.fixture
def proj(server) -> Project:
    project = Project(server.url, create_project(server, "PyCap repository").token)
    new_folder = project.create_folder_in_repository("test").pop()
    with tempfile.NamedTemporaryFile(mode="w+t") as tmp_file:
        tmp_file.write("hello")
        tmp_file.seek(0)
        project.import_file_into_repository(file_name="test.txt", file_object=tmp_file)
        project.import_file_into_repository(
            file_name="test_in_folder.txt",
            file_object=tmp_file,
            folder_id=new_folder["folder_id"],
        )
    return project


def test_docstring_examples(proj: Project):
    [created] = proj.create_folder_in_repository(name="New Folder")
    assert isinstance(created["folder_id"], int) and created["folder_id"] > 0

    file_dir = proj.export_file_repository()
    assert file_dir[0] == {"folder_id": created["folder_id"], "name": "New Folder"}
    assert [item["name"] for item in file_dir] == ["New Folder", "test", "test.txt"]

    text_file = [file for file in file_dir if file["name"] == "test.txt"].pop()
    assert proj.export_file_from_repository(doc_id=text_file["doc_id"]) == (
        b"hello",
        {"name": "test.txt", "charset": "UTF-8"},
    )

    test_folder = [folder for folder in file_dir if folder["name"] == "test"].pop()
    test_dir = proj.export_file_repository(folder_id=test_folder["folder_id"])
    in_folder = [file for file in test_dir if file["name"] == "test_in_folder.txt"].pop()
    # The second upload of the fixture's file read nothing: an empty file, still a file.
    assert proj.export_file_from_repository(doc_id=in_folder["doc_id"])[0] == b""
    assert proj.delete_file_from_repository(doc_id=in_folder["doc_id"]) == [{}]
    assert proj.export_file_repository(folder_id=test_folder["folder_id"]) == []

    with tempfile.TemporaryFile() as tmp_file:
        assert proj.import_file_into_repository(file_name="myupload.txt", file_object=tmp_file) == [
            {}
        ]
    assert "myupload.txt" in [item["name"] for item in proj.export_file_repository()]


def test_nested_folder_and_formats(proj: Project):
    """PyCap parses the body by ``return_format_type``: csv/xml need both parameters."""
    as_csv = {"format_type": "csv", "return_format_type": "csv"}
    [parent] = proj.create_folder_in_repository(name="parent", format_type="json")
    child_csv = proj.create_folder_in_repository(
        name="child", folder_id=parent["folder_id"], **as_csv
    )
    assert child_csv.splitlines()[0] == "folder_id"
    proj.import_file_into_repository(
        file_name="deep.bin", file_object=io.BytesIO(b"\x00\x01"), folder_id=parent["folder_id"]
    )
    listing = proj.export_file_repository(folder_id=parent["folder_id"], **as_csv)
    assert listing.splitlines()[0] == "folder_id,doc_id,name,role,dag"
    assert [row.split(",")[2] for row in listing.splitlines()[1:]] == ["child", "deep.bin"]
    xml = proj.export_file_repository(
        folder_id=parent["folder_id"], format_type="xml", return_format_type="xml"
    )
    assert xml.count("<item>") == 2


def test_errors_reach_pycap_as_redcap_errors(proj: Project):
    with pytest.raises(RedcapError, match="folder_id=99 does not exist"):
        proj.export_file_repository(folder_id=99)
    # Export sends returnFormat=json but no format, so PyCap looks for an XML ``<error>`` and
    # hands the JSON error back as the file's content (as it would from real REDCap).
    content, _ = proj.export_file_from_repository(doc_id=99999)
    assert b"doc_id=99999 does not exist" in content
    with pytest.raises(RedcapError, match="at most 150 characters"):
        proj.create_folder_in_repository(name="x" * 151)
