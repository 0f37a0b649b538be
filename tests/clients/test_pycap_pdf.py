"""Unmodified PyCap's ``export_pdf`` against the running server.

PyCap sends ``content=pdf``, ``returnFormat=json`` and only the arguments that are set
(``allRecords``/``compactDisplay`` as ``True``), and returns ``(content, {'name': ...})``
parsed from ``Content-Type``; its docstring example records ``(b'%PDF-1.3\\n3 0 obj\\n...,
{...})``.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from pypdf import PdfReader
from redcap import Project

from api.test_pdf import classic_with_data, grant_forms
from builders import clinical_longitudinal


def text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def classic(server) -> Project:
    return Project(server.url, classic_with_data(server).token)


def test_blank_pdf_like_the_docstring_example(classic: Project):
    content, info = classic.export_pdf()
    # REDCap's first bytes (the docstring: ``(b'%PDF-1.3\\n3 0 obj\\n..., {...})``).
    assert repr((content, info)).startswith("(b'%PDF-1.3\\n3 0 obj\\n")
    assert list(info) == ["name"]
    assert re.fullmatch(r"Classicclinical_\d{4}-\d\d-\d\d_\d{4}\.pdf", info["name"])
    assert "First name" in text(content)


def test_every_argument(classic: Project):
    content, info = classic.export_pdf(record="1", instrument="adverse_events", repeat_instance=2)
    assert info["name"].startswith("Adverseevents_Classicclinical_")
    assert "Rash" in text(content) and "Headache" not in text(content)
    content, _ = classic.export_pdf(all_records=True, compact_display=True)
    body = text(content)
    assert "Zoë" in body and "Bob" in body and "Email" not in body.split("Bob")[1]


def test_longitudinal_event(server):
    api = clinical_longitudinal(server)
    grant_forms(api)
    api.import_json("record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1"}])
    project = Project(server.url, api.token)
    content, _ = project.export_pdf(record="1", event="visit_2_arm_1")
    assert "Weight (kg)" in text(content) and "First name" not in text(content)


def test_errors_come_back_as_content(classic: Project):
    """PyCap asks for bytes here and so cannot look for an ``error`` key: it hands the JSON
    error body back as the content (as it does against REDCap), with no file name."""
    content, info = classic.export_pdf(record="9")
    assert json.loads(content) == {"error": 'The record "9" does not exist'}
    assert "name" not in info
    content, _ = classic.export_pdf(instrument="nope")
    assert json.loads(content) == {"error": "The instrument 'nope' is not valid"}
