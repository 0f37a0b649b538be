"""A report definition, turned into the rows it shows, in process (no server, no database).

:func:`localcap.reports.export.plan_report` reads a :class:`ReportDefinition` with the user's
:class:`ExportSelection` (rights and DAG): it says which stored rows storage must read (events, DAGs) and
:meth:`ReportPlan.rows` turns those rows into the report's cells -- filtered by its logic,
ordered by its sort fields, cut to what the user may export. The project is
``domain_builders``' classic ``trial`` (``cohort`` for events); the rows are made by hand in
the order storage yields them (by record, then event, instrument, instance).
"""

from __future__ import annotations

import pytest

from domain_builders import BASELINE, FOLLOWUP, cohort, row, trial
from localcap.model.rights import NO_ACCESS, REMOVE_IDENTIFIERS, Rights
from localcap.model.rows import StoredRow
from localcap.model.selection import ExportSelection
from localcap.reports.definition import OrderBy, ReportDefinition, ReportDefinitionError
from localcap.reports.export import no_access, plan_report

SITE_A, SITE_B = 1, 2
ROWS = [
    row("1", SITE_A, record_id="1", name="Ann", weight="70", sex="0", race=["1"]),
    row("2", SITE_B, record_id="2", name="bob", weight="9", sex="1"),
    row("3", None, record_id="3", name="Cy", sex="1"),
    StoredRow("3", 0, "visits", 1, {"visit_date": "2024-01-01", "hb": "12"}),
    row("10", SITE_A, record_id="10", name="Dee", weight="100.5", sex="0"),
]


def plan(project, definition, rights=None, group_id=None):
    """The report as ``alice`` (full rights unless ``rights``, in DAG ``group_id``) sees it."""
    selection = ExportSelection(project, rights or Rights.full(project), "alice", group_id)
    return plan_report(selection, definition)


def report(fields, rights=None, group_id=None, project=None, **definition):
    """The report's header and rows for ``ROWS`` (the whole project's, full rights)."""
    project = project or trial()
    plan_ = plan(project, ReportDefinition("A report", fields, **definition), rights, group_id)
    return [c.name for c in plan_.export.columns], list(plan_.rows(ROWS))


def test_the_record_id_and_repeat_columns_come_first_then_the_fields_checkboxes_expanded():
    header, rows = report(["race", "record_id", "hb"])
    assert header == [
        "record_id",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "race___1",
        "race___2",
        "race___98",
        "hb",
    ]
    # Every row the fields have data in; storage order when the report sorts nothing.
    assert rows == [
        ["1", "", "", "1", "0", "0", ""],
        ["2", "", "", "0", "0", "0", ""],
        ["3", "", "", "0", "0", "0", ""],
        ["3", "visits", 1, "", "", "", "12"],
        ["10", "", "", "0", "0", "0", ""],
    ]


def test_a_number_field_sorts_numerically_blanks_first_ascending_and_last_descending():
    _, rows = report(["record_id", "weight"], order_by=[OrderBy("weight")])
    assert [r[0] for r in rows] == ["3", "2", "1", "10"]  # blank, 9, 70, 100.5
    _, rows = report(["record_id", "weight"], order_by=[OrderBy("weight", "DESC")])
    assert [r[0] for r in rows] == ["10", "1", "2", "3"]
    # (Record 3's visits row is not in this report: none of its fields has data there.)


def test_a_text_field_sorts_as_text_and_ties_keep_the_next_keys_order():
    _, rows = report(["record_id", "name"], order_by=[OrderBy("name")])
    assert [r[3] for r in rows] == ["Ann", "Cy", "Dee", "bob"]  # code point order
    _, rows = report(
        ["record_id", "sex"], order_by=[OrderBy("sex", "DESC"), OrderBy("record_id", "DESC")]
    )
    # record_id is an unvalidated text field: compared as text, "10" > "1" and "3" > "2".
    assert [(r[0], r[3]) for r in rows] == [("3", "1"), ("2", "1"), ("10", "0"), ("1", "0")]


def test_filter_logic_keeps_matching_rows_or_with_filter_type_record_whole_records():
    """Longitudinal: ``[hb]`` is the value in the row's own event."""
    project = cohort()
    stored = [
        StoredRow("1", BASELINE, "", 1, {"record_id": "1", "name": "Ann", "hb": "9"}),
        StoredRow("1", FOLLOWUP, "", 1, {"hb": "12"}),
        StoredRow("1", FOLLOWUP, "", 2, {"hb": "8"}),
        StoredRow("2", BASELINE, "", 1, {"record_id": "2", "name": "Bob", "hb": "7"}),
    ]

    def shown(filter_type: str) -> list[tuple[str, str, object]]:
        definition = ReportDefinition(
            "High", ["record_id", "hb"], filter_logic="[hb] > 10", filter_type=filter_type
        )
        return [(r[0], r[1], r[3]) for r in plan(project, definition).rows(stored)]

    assert shown("EVENT") == [("1", "followup_arm_1", 1)]
    assert shown("RECORD") == [
        ("1", "baseline_arm_1", ""),
        ("1", "followup_arm_1", 1),
        ("1", "followup_arm_1", 2),
    ]


def test_fields_the_user_may_not_export_are_neither_shown_nor_sorted_by():
    """Sorting by a hidden identifier would rank the user's rows by the names it may not see."""
    rights = Rights.full(trial())
    rights.forms_export["demographics"] = REMOVE_IDENTIFIERS
    header, rows = report(
        ["record_id", "name", "weight"], rights, order_by=[OrderBy("name", "DESC")]
    )
    assert header == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "weight"]
    assert [r[0] for r in rows] == ["1", "2", "3", "10"]  # storage order, not by name


def test_a_report_whose_instruments_are_all_no_access_is_refused_whole():
    project = trial()
    rights = Rights.full(project)
    rights.forms_export["visits"] = NO_ACCESS
    assert no_access(project, rights, ReportDefinition("Visits", ["record_id", "hb"]))
    assert not no_access(project, rights, ReportDefinition("Names", ["record_id", "name"]))
    # The record ID alone shows every instrument: refused only if all are No Access.
    assert not no_access(project, rights, ReportDefinition("IDs", ["record_id"]))
    rights.forms_export["demographics"] = NO_ACCESS
    assert no_access(project, rights, ReportDefinition("IDs", ["record_id"]))


def test_storage_reads_the_reports_events_and_dags_the_users_own_dag_only():
    project = cohort()
    baseline = plan(
        project, ReportDefinition("Baseline", ["record_id"], filter_events=["baseline_arm_1"])
    )
    assert (baseline.selection.event_ids, baseline.selection.group_ids) == ([BASELINE], None)

    def group_ids(user_group: int | None, dags: list[str]) -> list[int] | None:
        definition = ReportDefinition("By site", ["record_id"], filter_dags=dags)
        return plan(project, definition, group_id=user_group).selection.group_ids

    assert group_ids(None, ["site_a", "site_b"]) == [SITE_A, SITE_B]
    assert group_ids(SITE_B, ["site_a", "site_b"]) == [SITE_B]
    assert group_ids(SITE_B, []) == [SITE_B]
    assert group_ids(SITE_B, ["site_a"]) == []  # a site A report shows a site B user nothing


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"fields": ["record_id", "nope"]},
            "Report 'R': unknown fields: nope",
        ),
        (
            {"fields": ["bmi_note"]},
            "Report 'R': descriptive fields hold no data: bmi_note",
        ),
        (
            {"fields": ["race"], "order_by": [OrderBy("race")]},
            "Report 'R': checkbox fields cannot be sort fields (race)",
        ),
        (
            {"fields": ["name"], "order_by": [OrderBy("name")] * 4},
            "Report 'R': at most 3 order_by fields are allowed, not 4",
        ),
        (
            {"fields": ["name"], "filter_events": ["baseline_arm_1"]},
            "Report 'R': filter_events needs a longitudinal project",
        ),
        (
            {"fields": ["name"], "filter_dags": ["site_c"]},
            "Report 'R': unknown DAGs: site_c",
        ),
    ],
)
def test_a_definition_naming_what_the_project_lacks_is_refused_before_it_is_stored(
    definition, message
):
    with pytest.raises(ReportDefinitionError) as refused:
        ReportDefinition("R", **definition).validate(trial())
    assert str(refused.value) == message
