"""Import Records' checks, in process: what a submission becomes, and how it is refused.

:class:`~localcap.model.record_import.ImportChecker` turns submitted flat rows (every value a
string, as the parsers give them) into an :class:`~localcap.model.record_import.ImportPlan`,
or refuses the whole submission with one RecordImportError that lists every problem as a
REDCap ``"record","field","value","message"`` line. Nothing here touches a database: writing a
plan is the use case :mod:`localcap.actions.import_records`. The projects are
``domain_builders``' ``trial`` (classic) and ``cohort`` (longitudinal).
"""

from __future__ import annotations

import pytest

from domain_builders import BASELINE, FOLLOWUP, cohort, trial
from localcap.model.record_import import (
    ImportChecker,
    ImportPlan,
    RecordImportError,
    RowChange,
    apply_change,
)
from localcap.model.rows import StoredRow


def refusal(project, rows, group_id=None, date_format="YMD") -> list[str]:
    """The lines of the one error the submission is refused with."""
    with pytest.raises(RecordImportError) as caught:
        ImportChecker(project, date_format).check(rows, group_id)
    return caught.value.message.split("\n")


# -- what a valid submission becomes -------------------------------------------------------


def test_valid_rows_become_one_change_per_row_with_records_in_order_of_appearance():
    plan = ImportChecker(trial()).check(
        [
            {"record_id": "7", "name": "Ann", "sex": "0", "race___1": "1", "race___98": "0"},
            {"record_id": "3", "redcap_repeat_instrument": "visits",
             "redcap_repeat_instance": "2", "hb": "13.5"},
            {"record_id": "7", "weight": "61", "sex": " 1 ", "demographics_complete": " 2"},
        ],
        None,
    )  # fmt: skip
    assert plan == ImportPlan(
        [
            RowChange(
                "7",
                0,
                "",
                1,
                {"name": "Ann", "sex": "0"},
                {("race", "1"): "1", ("race", "98"): "0"},
            ),
            RowChange("3", 0, "visits", 2, {"hb": "13.5"}),
            # Choices and statuses are trimmed; what is typed (text, notes) is kept as sent.
            RowChange("7", 0, "", 1, {"weight": "61", "sex": "1", "demographics_complete": "2"}),
        ],
        ["7", "3"],
    )


def test_typed_text_is_kept_as_sent_spaces_included():
    plan = ImportChecker(trial()).check([{"record_id": "1", "name": " Ann "}], None)
    assert plan.changes[0].values == {"name": " Ann "}


def test_blank_values_are_kept_in_the_plan_so_overwrite_can_erase_with_them():
    plan = ImportChecker(trial()).check([{"record_id": "1", "name": "", "race___2": ""}], None)
    assert plan.changes[0].values == {"name": ""}
    assert plan.changes[0].checkboxes == {("race", "2"): ""}


def test_dates_sent_as_mdy_or_dmy_are_stored_as_ymd():
    row = {"record_id": "1", "dob": "12/31/1990"}
    assert ImportChecker(trial(), "MDY").check([row], None).changes[0].values == {
        "dob": "1990-12-31"
    }
    row = {"record_id": "1", "dob": "31/12/1990"}
    assert ImportChecker(trial(), "dmy").check([row], None).changes[0].values == {
        "dob": "1990-12-31"
    }
    # The same text read as Y-M-D is no date at all.
    assert refusal(trial(), [row]) == [
        '"1","dob","31/12/1990","The value for the field \'dob\' must be a valid date in the '
        'format YYYY-MM-DD"'
    ]


def test_survey_timestamps_and_other_special_columns_are_accepted_without_being_values():
    plan = ImportChecker(trial()).check(
        [{"record_id": "1", "demographics_timestamp": "2024-01-01 10:00", "name": "Ann"}], None
    )
    assert plan.changes[0].values == {"name": "Ann"}


def test_file_fields_are_ignored_as_real_redcap_ignores_an_exported_document_placeholder():
    project = trial()
    project.fields.append(project.fields[0].__class__("scan", "demographics", "file", "Scan"))
    plan = ImportChecker(project).check([{"record_id": "1", "scan": "[document]"}], None)
    assert plan.changes[0].values == {}


# -- how a submission is refused -----------------------------------------------------------


def test_unknown_columns_are_refused_first_all_named_in_order():
    assert refusal(trial(), [{"record_id": "1", "zeta": "1"}, {"alpha": "", "race___3": "1"}]) == [
        "The following fields were not found in the project as real data fields: "
        "alpha, race___3, zeta"
    ]


def test_every_problem_of_every_row_is_listed_in_one_message_in_row_order():
    rows = [
        {"record_id": "", "name": "Nobody"},
        {"record_id": "x" * 256},
        {"record_id": "1", "redcap_repeat_instrument": "demographics"},
        {"record_id": "2", "redcap_repeat_instrument": "visits", "redcap_repeat_instance": "0"},
        {"record_id": "3", "redcap_data_access_group": "site_c"},
        {
            "record_id": "4",
            "sex": "3",
            "race___1": "yes",
            "dob": "2024-02-30",
            "weight": "heavy",
            "level": "high",
            "demographics_complete": "5",
        },
        {"record_id": "5", "hb": "12"},
        {"record_id": "6", "name": "A valid row is not listed"},
    ]
    assert refusal(trial(), rows) == [
        '"","record_id","","The record ID field (record_id) is missing or blank"',
        '"' + "x" * 40 + '...","record_id","","The record name is longer than 255 characters"',
        '"1","redcap_repeat_instrument","demographics",'
        "\"The instrument 'demographics' is not a repeating instrument here\"",
        '"2","redcap_repeat_instance","0",'
        "\"The repeat instance must be a positive integer or 'new'\"",
        '"3","redcap_data_access_group","site_c","The data access group \'site_c\' does not exist"',
        # A row whose record, event, instance and DAG are right has each bad value listed.
        '"4","sex","3","The value is not a valid category for sex"',
        '"4","race___1","yes","The value is not a valid category for race"',
        '"4","dob","2024-02-30",'
        "\"The value for the field 'dob' must be a valid date in the format YYYY-MM-DD\"",
        '"4","weight","heavy","The value for the field \'weight\' is not a valid number value"',
        '"4","level","high","The value for the slider \'level\' must be a number"',
        '"4","demographics_complete","5","The value must be 0, 1 or 2 (form status)"',
        '"5","hb","12","The field \'hb\' is on the repeating instrument \'visits\': '
        'give redcap_repeat_instrument and redcap_repeat_instance"',
    ]


def test_values_are_quoted_in_the_error_lines_as_csv_so_a_client_can_parse_them():
    assert refusal(trial(), [{"record_id": 'say "hi"', "sex": 'a,"b"'}]) == [
        '"say ""hi""","sex","a,""b""","The value is not a valid category for sex"'
    ]


def test_keep_invalid_keeps_values_that_fail_validation_and_lists_them():
    """For a project XML from REDCap, whose data may predate a validation added later."""
    checker = ImportChecker(trial(), keep_invalid=True)
    plan = checker.check([{"record_id": "1", "sex": "3", "weight": "heavy"}], None)
    assert plan.changes[0].values == {"sex": "3", "weight": "heavy"}
    assert checker.kept_invalid == [
        '"1","sex","3","The value is not a valid category for sex"',
        '"1","weight","heavy","The value for the field \'weight\' is not a valid number value"',
    ]
    # What is not a value (here an unknown event) is still refused.
    with pytest.raises(RecordImportError):
        ImportChecker(cohort(), keep_invalid=True).check(
            [{"record_id": "1", "redcap_event_name": "nope"}], None
        )


# -- checkboxes ----------------------------------------------------------------------------


def test_a_checkbox_option_is_its_own_column_taking_0_1_or_blank():
    plan = ImportChecker(trial()).check(
        [{"record_id": "1", "race___1": "1", "race___2": "0", "race___98": ""}], None
    )
    assert plan.changes[0].checkboxes == {
        ("race", "1"): "1",
        ("race", "2"): "0",
        ("race", "98"): "",
    }
    assert refusal(trial(), [{"record_id": "1", "race___2": "2"}]) == [
        '"1","race___2","2","The value is not a valid category for race"'
    ]


def test_checked_options_are_merged_into_the_stored_ones_in_choice_order():
    project = trial()
    stored = StoredRow("1", 0, "", 1, {"record_id": "1", "race": ["98"]})
    change = RowChange("1", 0, "", 1, checkboxes={("race", "1"): "1", ("race", "2"): ""})
    apply_change(stored, change, False, project)
    assert stored.data["race"] == ["1", "98"]
    # "0" unchecks; with overwriteBehavior=overwrite a blank unchecks too.
    apply_change(stored, RowChange("1", 0, "", 1, checkboxes={("race", "98"): "0"}), False, project)
    assert stored.data["race"] == ["1"]
    apply_change(stored, RowChange("1", 0, "", 1, checkboxes={("race", "1"): ""}), True, project)
    assert "race" not in stored.data


# -- merging a change into a stored row ----------------------------------------------------


def test_blanks_never_erase_in_normal_mode_and_do_in_overwrite_mode():
    project = trial()
    stored = StoredRow("1", 0, "", 1, {"name": "Ann", "sex": "0", "demographics_complete": "2"})
    apply_change(stored, RowChange("1", 0, "", 1, {"name": "", "sex": "1"}), False, project)
    assert stored.data == {"name": "Ann", "sex": "1", "demographics_complete": "2"}
    apply_change(stored, RowChange("1", 0, "", 1, {"name": ""}), True, project)
    assert stored.data == {"sex": "1", "demographics_complete": "2"}


def test_a_form_that_gets_data_gets_an_incomplete_status_and_an_id_alone_makes_a_record():
    project = trial()
    stored = StoredRow("1", 0, "visits", 1)
    apply_change(stored, RowChange("1", 0, "visits", 1, {"hb": "12"}), False, project)
    assert stored.data == {"hb": "12", "visits_complete": "0"}
    empty = StoredRow("2", 0, "", 1)
    apply_change(empty, RowChange("2", 0, "", 1), False, project)
    assert empty.data == {"record_id": "2"}


# -- repeat instances ----------------------------------------------------------------------


def test_repeat_instances_are_numbers_from_1_or_new_and_default_to_1():
    rows = [
        {"record_id": "1", "redcap_repeat_instrument": "visits", "redcap_repeat_instance": "new"},
        {"record_id": "1", "redcap_repeat_instrument": "visits", "redcap_repeat_instance": "NEW"},
        {"record_id": "1", "redcap_repeat_instrument": "visits", "redcap_repeat_instance": ""},
        {"record_id": "1", "redcap_repeat_instrument": "visits", "redcap_repeat_instance": "9"},
        # Outside a repeat the instance is not looked at.
        {"record_id": "1", "redcap_repeat_instance": "oops"},
    ]
    plan = ImportChecker(trial()).check(rows, None)
    assert [c.instance for c in plan.changes] == ["new", "new", 1, 9, 1]
    for bad in ("0", "-1", "1.5", "two", str(2**31)):
        rows = [{"record_id": "1", "redcap_repeat_instrument": "visits",
                 "redcap_repeat_instance": bad}]  # fmt: skip
        assert refusal(trial(), rows) == [
            f'"1","redcap_repeat_instance","{bad}",'
            "\"The repeat instance must be a positive integer or 'new'\""
        ]


# -- events (longitudinal) -----------------------------------------------------------------


def test_a_longitudinal_row_names_its_event_or_goes_to_the_first_one():
    plan = ImportChecker(cohort()).check(
        [
            {"record_id": "1", "name": "Ann"},
            {"record_id": "1", "redcap_event_name": "followup_arm_1",
             "redcap_repeat_instance": "new", "hb": "12"},
        ],
        None,
    )  # fmt: skip
    assert [(c.event_id, c.repeat_instrument, c.instance) for c in plan.changes] == [
        (BASELINE, "", 1),
        (FOLLOWUP, "", "new"),  # a repeating event: the whole event repeats
    ]


def test_an_unknown_event_or_a_value_on_an_instrument_the_event_lacks_is_refused():
    rows = [
        {"record_id": "1", "redcap_event_name": "nope", "name": "Ann"},
        {"record_id": "2", "redcap_event_name": "followup_arm_1", "name": "Bob", "hb": "1"},
        {"record_id": "3", "redcap_event_name": "followup_arm_1", "name": ""},  # blank: fine
    ]
    assert refusal(cohort(), rows) == [
        '"1","redcap_event_name","nope","The event name \'nope\' is not valid"',
        '"2","name","Bob","The field \'name\' is on the instrument \'demographics\', '
        "which is not designated for the event 'followup_arm_1'\"",
    ]


# -- data access groups --------------------------------------------------------------------


def test_a_user_in_no_dag_assigns_records_to_any_dag_or_to_none():
    plan = ImportChecker(trial()).check(
        [
            {"record_id": "1", "redcap_data_access_group": "site_b"},
            {"record_id": "2", "redcap_data_access_group": ""},  # unassign
            {"record_id": "3"},  # leave as is
        ],
        None,
    )
    assert [c.dag for c in plan.changes] == ["site_b", "", None]


def test_a_dag_user_may_name_only_its_own_dag_and_its_records_stay_there():
    site_a = 1
    plan = ImportChecker(trial()).check(
        [{"record_id": "1", "redcap_data_access_group": "site_a"},
         {"record_id": "2", "redcap_data_access_group": ""}],
        site_a,
    )  # fmt: skip
    assert [c.dag for c in plan.changes] == [None, None]  # the write puts them in site_a
    assert refusal(trial(), [{"record_id": "1", "redcap_data_access_group": "site_b"}], site_a) == [
        '"1","redcap_data_access_group","site_b",'
        '"You are in a Data Access Group and cannot assign records to another group"'
    ]


def test_a_new_rows_checked_options_are_stored_in_choice_order_whatever_the_column_order():
    project = trial()
    plan = ImportChecker(project).check(
        [{"race___98": "1", "record_id": "1", "race___2": "0", "race___1": "1", "sex": "1"}], None
    )
    row = StoredRow("1", 0, "", 1)
    apply_change(row, plan.changes[0], False, project)
    assert row.data == {"sex": "1", "race": ["1", "98"], "demographics_complete": "0"}
