"""How the design methods' rows become DAGs, arms, events, mappings and the repeating setup
(model/dags.py, model/events.py), in-process: no server, no database."""

from __future__ import annotations

import pytest

from localcap.model.dags import PlannedDag, group_id_of, plan_dags, plan_user_dags
from localcap.model.errors import DomainError
from localcap.model.events import plan_arms, plan_events, plan_mapping, plan_repeating
from localcap.model.project import Arm, Dag, Event, Field, Form, Project


def project(longitudinal: bool = True) -> Project:
    events = [Event(10, 1, "Baseline", "baseline_arm_1"), Event(11, 1, "Week 4", "week_4_arm_1")]
    return Project(
        1,
        "P",
        longitudinal,
        {},
        fields=[Field("record_id", "demo", "text"), Field("dose", "visit", "text")],
        forms=[Form("demo", "Demo"), Form("visit", "Visit")],
        arms=[Arm(1, "Arm 1")],
        events=events if longitudinal else [],
        event_forms={10: ["demo", "visit"], 11: ["visit"]} if longitudinal else {},
        dags=[Dag(5, "Site A", "site_a"), Dag(6, "Site B", "site_b")],
    )


def refused(call, *args) -> str:
    with pytest.raises(DomainError) as error:
        call(*args)
    return error.value.message


def test_dags_are_created_renamed_and_kept_with_unique_names():
    rows = [
        {"data_access_group_name": "Site A", "unique_group_name": "site_a"},
        {"data_access_group_name": "Renamed B", "unique_group_name": "site_b"},
        {"data_access_group_name": "Site A", "unique_group_name": ""},
    ]
    assert plan_dags(project(), rows) == [
        PlannedDag("Site A", "site_a", "site_a"),
        PlannedDag("Renamed B", "site_b", "renamed_b"),
        PlannedDag("Site A", "site_a2", "site_a2"),  # a new DAG never takes a name in use
    ]
    assert refused(plan_dags, project(), [{"data_access_group_name": " "}]) == (
        "The data_access_group_name is missing"
    )
    assert refused(
        plan_dags, project(), [{"data_access_group_name": "X", "unique_group_name": "nope"}]
    ).startswith("The unique_group_name 'nope' does not exist")


def test_user_dag_assignments_name_members_and_dags():
    rows = [
        {"username": "ann", "redcap_data_access_group": "site_b"},
        {"username": "bob", "redcap_data_access_group": ""},
    ]
    assert plan_user_dags(project(), {"ann", "bob"}, rows) == [("ann", 6), ("bob", None)]
    assert refused(plan_user_dags, project(), {"ann"}, rows) == (
        "The user 'bob' is not a user of this project"
    )
    assert refused(group_id_of, project(), "site_z") == (
        "The data access group 'site_z' does not exist"
    )


def test_arms_and_events_get_redcaps_names():
    assert plan_arms([{"arm_num": " 2 ", "name": " Two "}]) == [Arm(2, "Two")]
    assert refused(plan_arms, [{"arm_num": "x", "name": "A"}]) == (
        "The arm number 'x' is not a valid integer"
    )
    assert (
        refused(plan_arms, [{"arm_num": "0", "name": "A"}]) == "The arm number '0' is out of range"
    )
    rows = [
        {"event_name": "Week 4", "arm_num": "1"},  # the name in use gets a letter
        {"event_name": "Given", "arm_num": "1", "unique_event_name": "given_name_arm_1"},
        {"event_name": "Wrong arm", "arm_num": "1", "unique_event_name": "event_2_arm_2"},
    ]
    names = [e.unique_event_name for e in plan_events(project(), rows, override=False)]
    assert names == ["week_4a_arm_1", "given_name_arm_1", "wrong_arm_arm_1"]
    assert refused(plan_events, project(), [{"event_name": "E", "arm_num": "3"}], False) == (
        "The arm number '3' does not exist in the project"
    )


def test_a_mapping_lists_every_bad_row_at_once():
    good = {"arm_num": "1", "unique_event_name": "week_4_arm_1", "form": "demo"}
    assert plan_mapping(project(), [good]) == [(11, "demo")]
    bad = [
        {"unique_event_name": "nope_arm_1", "form": "demo"},
        {"unique_event_name": "week_4_arm_1", "form": "ghost"},
        {"arm_num": "2", "unique_event_name": "week_4_arm_1", "form": "demo"},
    ]
    assert refused(plan_mapping, project(), bad).split("\n") == [
        "The unique event name 'nope_arm_1' is not valid",
        "The instrument 'ghost' does not exist",
        "The event 'week_4_arm_1' is not in arm 2",
    ]


def test_the_repeating_setup_follows_the_designations():
    rows = [{"event_name": "baseline_arm_1", "form_name": "visit", "custom_form_label": "[dose]"}]
    assert plan_repeating(project(), rows) == [(10, "visit", "[dose]")]
    assert plan_repeating(project(), [{"event_name": "week_4_arm_1"}]) == [(11, "", "")]
    assert refused(
        plan_repeating, project(), [{"event_name": "week_4_arm_1", "form_name": "demo"}]
    ) == ("The instrument 'demo' is not designated for the event 'week_4_arm_1'")
    classic = project(longitudinal=False)
    assert plan_repeating(classic, [{"form_name": "visit"}]) == [(0, "visit", "")]
    assert refused(plan_repeating, classic, [{"form_name": ""}]) == "The form_name is missing"
    assert refused(plan_repeating, classic, [{"event_name": "x_arm_1", "form_name": "visit"}]) == (
        "event 'x_arm_1' is not available in project"
    )
