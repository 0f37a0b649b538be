"""Unmodified PyCap's survey methods against localcap, on the project PyCap's own integration
tests build (its REDCap XML): the same calls and assertions as PyCap's test_long_project.py,
but with this server's address instead of REDCap's demo host."""

from __future__ import annotations

import re

import pytest
from redcap import Project, RedcapError

from surveys.survey_helpers import long_project


@pytest.fixture
def project(server) -> Project:
    return Project(server.url, long_project(server).token)


def test_pycap_survey_links_and_codes(server, project: Project):
    base = re.escape(server.url.removesuffix("/api/"))
    link = project.export_survey_link(
        instrument="contact_info", event="enrollment_arm_1", record="1"
    )
    assert re.fullmatch(base + r"/surveys/\?s=[A-Z0-9]{16}", link)
    assert re.fullmatch(
        base + r"/surveys/\?sq=[A-Z0-9]{16}", project.export_survey_queue_link(record="1")
    )
    code = project.export_survey_access_code(
        record="1", instrument="contact_info", event="enrollment_arm_1"
    )
    assert len(code) == 9
    ret = project.export_survey_return_code(
        record="1", instrument="contact_info", event="enrollment_arm_1"
    )
    assert len(ret) == 8


def test_pycap_survey_participant_list(project: Project):
    data = project.export_survey_participant_list(
        instrument="contact_info", event="enrollment_arm_1"
    )
    assert len(data) == 1 and data[0]["record"] == "1"
    frame = project.export_survey_participant_list(
        instrument="contact_info", format_type="df", event="enrollment_arm_1"
    )
    assert "email" in frame.columns and len(frame) == 1


def test_pycap_sees_redcaps_error_for_a_missing_record(project: Project):
    with pytest.raises(
        RedcapError, match='The record \\\\"-1\\\\" does not exist|The record "-1" does not exist'
    ):
        project.export_survey_link(instrument="contact_info", event="enrollment_arm_1", record="-1")
