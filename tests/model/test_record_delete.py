"""Delete Records' planning rules, in-process (no server, no database): which values a delete
erases, which rows and records go, what the caller may not delete, and the answer's count."""

from __future__ import annotations

import pytest

from localcap.model.errors import DomainError
from localcap.model.project import Arm, Event, Field, Form, Project
from localcap.model.record_delete import DeleteRequest, delete_request, plan_delete
from localcap.model.rows import StoredRow

BASELINE, VISIT, OTHER_ARM = 11, 12, 21


def longitudinal() -> Project:
    """Two arms; ``visits`` repeats on event ``visit_arm_1``; ``consent`` holds a file field."""
    return Project(
        1,
        "P",
        True,
        {},
        fields=[
            Field("record_id", "demographics", "text"),
            Field("name", "demographics", "text"),
            Field("scan", "consent", "file"),
            Field("weight", "visits", "text"),
        ],
        forms=[
            Form("demographics", "Demographics"),
            Form("consent", "Consent"),
            Form("visits", "Visits"),
        ],
        arms=[Arm(1, "Arm 1"), Arm(2, "Arm 2")],
        events=[
            Event(BASELINE, 1, "Baseline", "baseline_arm_1"),
            Event(VISIT, 1, "Visit", "visit_arm_1"),
            Event(OTHER_ARM, 2, "Baseline", "baseline_arm_2"),
        ],
        event_forms={
            BASELINE: ["demographics", "consent"],
            VISIT: ["visits"],
            OTHER_ARM: ["demographics"],
        },
        repeating={(VISIT, "visits"): ""},
        longitudinal_enabled=True,
    )


def rows() -> list[StoredRow]:
    return [
        StoredRow(
            "1",
            BASELINE,
            "",
            1,
            {
                "record_id": "1",
                "name": "Ann",
                "scan": "7",
                "demographics_complete": "2",
                "consent_complete": "0",
            },
        ),
        StoredRow("1", VISIT, "visits", 1, {"weight": "70", "visits_complete": "1"}),
        StoredRow("1", VISIT, "visits", 2, {"weight": "71", "visits_complete": "1"}),
        StoredRow("1", OTHER_ARM, "", 1, {"record_id": "1", "name": "Ann"}),
        StoredRow("2", BASELINE, "", 1, {"record_id": "2", "name": "Bob"}),
    ]


EXISTING = {"1": None, "2": 5}


def planned(project: Project, request: DeleteRequest, group_id: int | None = None):
    """The plan given the stored rows of the records named, as storage loads them."""
    loaded = [row for row in rows() if row.record in request.records]
    return plan_delete(project, request, loaded, EXISTING, group_id)


def test_whole_records_go_with_their_files():
    project = longitudinal()
    result = planned(project, delete_request(project, ["1", "2"]))
    assert result.gone == ["1", "2"] and result.touched == [] and result.updates == []
    assert result.documents == ["7"]
    assert result.count == 2
    assert [c.record for c in result.changes(project)] == ["1", "2"]
    assert result.changes(project)[0].details == "record_id = '1'"


def test_an_arm_keeps_the_records_rows_in_other_arms():
    project = longitudinal()
    request = delete_request(project, ["1"], arm="1")
    result = planned(project, request)
    assert result.gone == [] and result.touched == ["1"]  # still in arm 2
    assert {(u.row.event_id, u.row.instance) for u in result.updates} == {
        (BASELINE, 1),
        (VISIT, 1),
        (VISIT, 2),
    }
    assert all(u.row.data == {} for u in result.updates)  # rows left empty are removed
    assert result.changes(project)[0].details == "[arm = 1] record_id = '1'"
    only_arm_2 = planned(project, delete_request(project, ["2"], arm="1"))
    assert only_arm_2.gone == ["2"]


def test_a_record_without_rows_in_the_arm_does_not_exist_there():
    project = longitudinal()
    with pytest.raises(DomainError, match="The following records do not exist: 2$"):
        planned(project, delete_request(project, ["1", "2"], arm="2"))


def test_an_instrument_erases_its_values_and_status_only():
    project = longitudinal()
    result = planned(project, delete_request(project, ["1"], instrument="consent"))
    (update,) = result.updates
    assert update.row.data == {"record_id": "1", "name": "Ann", "demographics_complete": "2"}
    assert update.forms == {"consent"}
    assert result.documents == ["7"] and result.gone == [] and result.touched == ["1"]
    assert result.count == 1
    assert rows()[0].data["scan"] == "7"  # the stored rows given are not changed


def test_event_and_instance_narrow_a_partial_delete():
    project = longitudinal()
    request = delete_request(project, ["1"], event_name="visit_arm_1", instance="2")
    result = planned(project, request)
    assert [(u.row.event_id, u.row.instance, u.row.data) for u in result.updates] == [
        (VISIT, 2, {})
    ]
    assert list(result.erased) == [("1", VISIT, "visits", 2)]


def test_a_partial_delete_that_matches_nothing_answers_zero():
    project = longitudinal()
    request = delete_request(project, ["2"], instrument="visits")
    result = planned(project, request)
    assert result.updates == [] and result.count == 0 and result.touched == ["2"]


def test_a_caller_in_a_dag_cannot_delete_other_groups_records():
    project = longitudinal()
    with pytest.raises(DomainError, match="do not exist: 1$"):
        planned(project, delete_request(project, ["1", "2"]), 5)
    assert planned(project, delete_request(project, ["2"]), 5).gone == ["2"]


def test_missing_records_refuse_the_whole_delete():
    project = longitudinal()
    with pytest.raises(DomainError, match="cannot be deleted because they do not exist"):
        planned(project, delete_request(project, ["1", "9"]))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"event_name": "nope"}, "The event 'nope' is not valid"),
        ({"instrument": "nope"}, "The instrument 'nope' is not valid"),
        ({"arm": "3"}, "The arm number '3' is not valid"),
        ({"arm": "x"}, "The arm number 'x' is not valid"),
        ({"event_name": "nope", "instrument": "nope"}, "The event 'nope' is not valid"),
    ],
)
def test_bad_parameters_are_refused_in_order(params, message):
    with pytest.raises(DomainError) as info:
        delete_request(longitudinal(), ["1"], **params)
    assert info.value.message == message


def test_a_classic_project_ignores_the_arm():
    project = longitudinal()
    project.is_longitudinal = False
    assert delete_request(project, ["1"], arm="9") == DeleteRequest(["1"], arm="9")
