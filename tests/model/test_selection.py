"""The export selection's rules, in-process: the export opening, the caller's own filter,
Export File's per-field rule, which DAGs are read, and a report applied to a selection."""

from __future__ import annotations

import pytest

from localcap.model.errors import DomainError, NotPermitted
from localcap.model.filtering import FilterError
from localcap.model.project import Dag, Field, Form, Project
from localcap.model.rights import DEIDENTIFIED, FULL, NO_ACCESS, Rights
from localcap.model.rows import StoredRow
from localcap.model.selection import (
    NO_ACCESS_EXPORT,
    ExportSelection,
    require_export_access,
    require_file_export,
    user_filter,
)
from localcap.reports.definition import ReportDefinition
from localcap.reports.export import plan_report


def project() -> Project:
    return Project(
        1,
        "P",
        False,
        {},
        fields=[
            Field("record_id", "main", "text"),
            Field("dob", "main", "text", identifier="y"),
            Field("scan", "main", "file", identifier="y"),
            Field("score", "main", "text"),
        ],
        forms=[Form("main", "Main")],
        dags=[Dag(5, "Site A", "site_a"), Dag(6, "Site B", "site_b")],
    )


def rights(level: int) -> Rights:
    full = Rights.full(project())
    full.forms_export = {"main": level}
    return full


def test_no_access_everywhere_is_refused_before_anything_is_read():
    with pytest.raises(NotPermitted) as info:
        require_export_access(project(), rights(NO_ACCESS))
    assert info.value.message == NO_ACCESS_EXPORT
    require_export_access(project(), rights(DEIDENTIFIED))


def test_a_filter_on_a_field_the_caller_may_not_export_is_refused():
    with pytest.raises(DomainError, match="refers to fields .* export: dob\\."):
        user_filter(project(), rights(DEIDENTIFIED), '[dob] <= "1941-12-09"')
    assert user_filter(project(), rights(FULL), '[dob] <= "1941-12-09"') is not None
    assert user_filter(project(), rights(DEIDENTIFIED), "") is None


def test_a_filter_that_does_not_parse_says_so():
    with pytest.raises(FilterError, match="^The filterLogic is not valid: "):
        user_filter(project(), rights(FULL), "[nope] = 1")


def test_file_export_needs_full_rights_for_an_identifier():
    scan = project().field_by_name["scan"]
    with pytest.raises(NotPermitted, match='"De-Identified" data export rights'):
        require_file_export(rights(DEIDENTIFIED), scan)
    with pytest.raises(NotPermitted) as info:
        require_file_export(rights(NO_ACCESS), scan)
    assert info.value.message == NO_ACCESS_EXPORT
    require_file_export(rights(FULL), scan)


def test_a_caller_in_a_dag_reads_only_that_dag():
    caller = ExportSelection(project(), rights(FULL), "ann", 5)
    assert caller.read_group_ids == [5] and caller.user_dag == "site_a"
    everyone = ExportSelection(project(), rights(FULL), "bob", None)
    assert everyone.read_group_ids is None and everyone.user_dag == ""


def test_a_report_of_another_dag_reads_nothing_for_a_dag_user():
    definition = ReportDefinition("Site B", ["record_id", "score", "gone"], filter_dags=["site_b"])
    plan = plan_report(ExportSelection(project(), rights(FULL), "ann", 5), definition)
    assert plan.selection.read_group_ids == []
    assert plan.selection.fields == ["record_id", "score"]  # "gone" left the dictionary


def test_a_report_filter_and_sort_apply_to_the_rows():
    definition = ReportDefinition("Top", ["record_id", "score"], filter_logic="[score] > 1")
    plan = plan_report(ExportSelection(project(), rights(FULL), "bob", None), definition)
    stored = [
        StoredRow("1", 0, "", 1, {"record_id": "1", "score": "1"}),
        StoredRow("2", 0, "", 1, {"record_id": "2", "score": "5"}),
    ]
    assert list(plan.rows(stored)) == [["2", "5"]]
