"""Calculated fields are computed by the server when data is saved, as in REDCap.

Import Records (and a survey page save) recompute the calc fields of the records written:
their values are what a client exports afterwards, whatever it imported into them.
"""

from __future__ import annotations

from builders import Api, create_project, field
from surveys.survey_helpers import link_for, record, save_for_later, survey_project


def number(name: str, form: str) -> dict[str, str]:
    return field(name, form, text_validation_type_or_show_slider_number="number")


def calc(name: str, form: str, expression: str) -> dict[str, str]:
    return field(name, form, "calc", select_choices_or_calculations=expression)


BMI = "round(([weight]*10000)/(([height])^(2)),1)"  # REDCapR's test projects' bmi

CLASSIC = [
    field("record_id", "health"),
    field("dob", "health", text_validation_type_or_show_slider_number="date_ymd"),
    field("visit_date", "health", text_validation_type_or_show_slider_number="date_ymd"),
    number("weight", "health"),
    number("height", "health"),
    # before bmi in the dictionary: computed after it all the same (it reads bmi)
    calc("obese", "health", "if([bmi] >= 30, 1, 0)"),
    calc("bmi", "health", BMI),
    calc("age", "health", "rounddown(datediff([dob], [visit_date], 'y'))"),
    number("a", "scores"),
    number("b", "scores"),
    number("c", "scores"),
    calc("total", "scores", "sum([a], [b], [c])"),
    calc("plain_sum", "scores", "[a] + [b] + [c]"),
    calc("ratio", "scores", "[a] / [b]"),
    calc("tenths", "scores", "[a] * 0.1 + [b] * 0.2"),
    calc("double", "scores", "[a] * 2"),
    # a smart variable localcap does not know: never computed
    calc("unknown", "scores", "[project-id] * [a]"),
]


def classic(server) -> Api:
    api = create_project(server, "Calcs")
    assert api.import_json("metadata", CLASSIC) == len(CLASSIC)
    return api


def exported(api: Api, record_id: str = "1", **params) -> dict[str, str]:
    return api.json(content="record", records=record_id, **params)[0]


def test_bmi_from_weight_and_height_as_redcap_stores_it(server):
    api = classic(server)
    api.import_json(
        "record",
        [
            {"record_id": "1", "weight": "1", "height": "7"},  # REDCapR's recorded 204.1
            {"record_id": "2", "weight": "80", "height": "180"},  # and its 24.7
            {"record_id": "3", "weight": "55.6", "height": "180"},  # RSVC D.110.100: 17.2
        ],
    )
    rows = api.json(content="record", fields="record_id,bmi,obese")
    assert [(r["bmi"], r["obese"]) for r in rows] == [("204.1", "1"), ("24.7", "0"), ("17.2", "0")]


def test_a_later_import_recomputes_and_blank_inputs_give_blank(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1", "weight": "80", "height": "180"}])
    api.import_json("record", [{"record_id": "1", "weight": "120"}])
    assert exported(api)["bmi"] == "37"  # round(37.03..., 1): integers without ".0"
    assert exported(api)["obese"] == "1"  # the chain follows
    api.import_json("record", [{"record_id": "1", "height": ""}], overwriteBehavior="overwrite")
    row = exported(api)
    assert row["bmi"] == "" and row["obese"] == "0"  # if() takes its false branch on blank


def test_datediff_rounddown(server):
    api = classic(server)
    api.import_json(
        "record",
        [
            {"record_id": "1", "dob": "2000-06-15", "visit_date": "2024-06-14"},
            {"record_id": "2", "dob": "2000-06-15"},  # no visit date: no age
        ],
    )
    assert [r["age"] for r in api.json(content="record", fields="record_id,age")] == ["23", ""]


def test_sum_skips_blanks_arithmetic_does_not(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1", "a": "1", "b": "3"}])
    row = exported(api)
    assert row["total"] == "4" and row["plain_sum"] == ""  # c is blank
    assert row["ratio"] == "0.33333333333333"  # 14 significant digits, as PHP prints floats
    assert row["tenths"] == "0.7" and row["double"] == "2"
    api.import_json("record", [{"record_id": "1", "b": "0", "c": "2"}])
    row = exported(api)
    assert (row["total"], row["plain_sum"], row["ratio"]) == ("3", "3", "")  # x/0: blank
    assert row["tenths"] == "0.1"  # 0.1 + 0: no floating point noise either


def test_an_imported_calc_value_is_recalculated_over(server):
    api = classic(server)
    row = {"record_id": "1", "a": "2", "double": "99", "total": ""}
    assert api.import_json("record", [row]) == {"count": 1}  # accepted, no error
    row = exported(api)
    assert row["double"] == "4" and row["total"] == "2"


def test_an_expression_localcap_cannot_evaluate_keeps_the_stored_value(server):
    api = classic(server)
    api.import_json("record", [{"record_id": "1", "a": "2", "unknown": "17"}])
    row = exported(api)
    assert row["unknown"] == "17"  # as imported: no wrong number, no error
    assert row["double"] == "4"  # the other calcs are computed all the same
    api.import_json("record", [{"record_id": "1", "a": "3"}])
    assert exported(api)["unknown"] == "17"


def test_import_response_and_counts_are_unchanged(server):
    api = classic(server)
    rows = [
        {"record_id": "1", "weight": "70", "height": "170"},
        {"record_id": "2", "a": "5"},
    ]
    assert api.import_json("record", rows) == {"count": 2}
    ids = api.import_json("record", rows, returnContent="ids")
    assert ids == ["1", "2"]
    csv = api.ok(
        content="record",
        action="import",
        format="json",
        data='[{"record_id": "3", "a": "1"}]',
        returnFormat="csv",
        returnContent="count",
    )
    assert csv.text == "1"
    # the calc values only land on the form they belong to: record 2 has no health data
    record_2 = exported(api, "2")
    assert record_2["bmi"] == "" and record_2["obese"] == ""  # not if([bmi] >= 30, 1, 0)'s 0
    assert record_2["double"] == "10" and record_2["scores_complete"] == "0"


def longitudinal(server) -> Api:
    api = create_project(server, "Calcs over events", longitudinal=True)
    dictionary = [
        field("record_id", "vitals"),
        number("weight", "vitals"),
        calc("weight_change", "vitals", "[weight] - [baseline_arm_1][weight]"),
        number("dose", "doses"),
        calc("dose_mg", "doses", "[dose] * 1000"),
        calc("dose_share", "doses", "round([dose] * 100 / [baseline_arm_1][weight], 2)"),
    ]
    api.import_json("metadata", dictionary)
    api.import_json(
        "event",
        [
            {"event_name": "Baseline", "arm_num": 1},
            {"event_name": "Follow up", "arm_num": 1},
        ],
        override=1,
    )
    api.import_json(
        "formEventMapping",
        [
            {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "vitals"},
            {"arm_num": 1, "unique_event_name": "baseline_arm_1", "form": "doses"},
            {"arm_num": 1, "unique_event_name": "follow_up_arm_1", "form": "vitals"},
        ],
    )
    api.import_json(
        "repeatingFormsEvents",
        [{"event_name": "baseline_arm_1", "form_name": "doses", "custom_form_label": ""}],
    )
    return api


def test_cross_event_references_and_repeating_instances(server):
    api = longitudinal(server)
    api.import_json(
        "record",
        [
            {"record_id": "1", "redcap_event_name": "baseline_arm_1", "weight": "80"},
            {"record_id": "1", "redcap_event_name": "follow_up_arm_1", "weight": "77.5"},
            *(
                {
                    "record_id": "1",
                    "redcap_event_name": "baseline_arm_1",
                    "redcap_repeat_instrument": "doses",
                    "redcap_repeat_instance": str(n),
                    "dose": dose,
                }
                for n, dose in ((1, "0.25"), (2, "0.5"))
            ),
        ],
    )

    def values() -> list[tuple]:
        return [
            (
                r["redcap_event_name"],
                r["redcap_repeat_instance"],
                r["weight_change"],
                r["dose_mg"],
                r["dose_share"],
            )
            for r in api.json(content="record")
        ]

    assert values() == [
        ("baseline_arm_1", "", "0", "", ""),
        ("baseline_arm_1", 1, "", "250", "0.31"),
        ("baseline_arm_1", 2, "", "500", "0.63"),
        ("follow_up_arm_1", "", "-2.5", "", ""),
    ]
    # changing the baseline alone recomputes what other events and instances read from it
    api.import_json(
        "record", [{"record_id": "1", "redcap_event_name": "baseline_arm_1", "weight": "50"}]
    )
    assert values() == [
        ("baseline_arm_1", "", "0", "", ""),
        ("baseline_arm_1", 1, "", "250", "0.5"),
        ("baseline_arm_1", 2, "", "500", "1"),
        ("follow_up_arm_1", "", "27.5", "", ""),
    ]


def test_a_survey_save_computes_the_calc_fields(server):
    api = survey_project(server, "--save-and-return")
    assert record(api)["double_age"] == ""
    assert save_for_later(link_for(api), age="21").status_code == 200
    assert record(api)["double_age"] == "42"
