"""The survey rules of the domain, without a server: action tag parsing, initial values,
@FORCE-MINMAX ranges, survey queue conditions and piping."""

from __future__ import annotations

from datetime import datetime

from localcap.model.action_tags import initial_value, outside_range, parse_tags, survey_tags
from localcap.model.piping import BLANK, pipe
from localcap.model.project import Field, Form, Project
from localcap.model.surveys import QueueCondition

NOON = datetime(2024, 2, 29, 12, 34, 56)


def text(name: str = "f", validation: str = "", annotation: str = "", **extra: str) -> Field:
    return Field(
        name,
        "form",
        "text",
        text_validation_type_or_show_slider_number=validation,
        field_annotation=annotation,
        **extra,
    )


def test_tags_are_parsed_with_their_arguments():
    tags = parse_tags(
        "@HIDDEN-SURVEY @default = \"a 'b' c\" @CALCTEXT(if([x] > (1), 'y', 'z')) @READONLY"
    )
    assert tags == {
        "HIDDEN-SURVEY": "",
        "DEFAULT": "a 'b' c",
        "CALCTEXT": "if([x] > (1), 'y', 'z')",
        "READONLY": "",
    }
    assert parse_tags("email me@example.org") == {"EXAMPLE": ""}  # harmless: not a tag we use
    assert not survey_tags(text(annotation="@HIDDEN-FORM @READONLY-FORM")).hidden
    assert survey_tags(text(annotation="@HIDDEN-FORM @READONLY-FORM")).is_input
    assert not survey_tags(text(annotation="@READONLY-SURVEY")).is_input


def test_initial_values_fit_the_fields_validation():
    assert initial_value(text(annotation="@NOW"), survey_tags(text(annotation="@NOW")), NOON) == (
        "2024-02-29 12:34:56"
    )
    for validation, annotation, expected in [
        ("date_dmy", "@TODAY", "2024-02-29"),
        ("datetime_mdy", "@NOW", "2024-02-29 12:34"),
        ("datetime_mdy", "@TODAY", "2024-02-29 12:34"),
        ("time", "@NOW", "12:34"),
        ("integer", "@NOW", ""),  # a value the field would refuse is not offered
        ("integer", "@DEFAULT='7'", "7"),
        ("integer", "@DEFAULT='seven'", ""),
    ]:
        f = text(validation=validation, annotation=annotation)
        assert initial_value(f, survey_tags(f), NOON) == expected, (validation, annotation)


def test_force_minmax_ranges():
    number = text(validation="number", text_validation_min="1.5", text_validation_max="5")
    assert outside_range(number, "1.4") and outside_range(number, "5.01")
    assert not outside_range(number, "1.5") and not outside_range(number, "5")
    day = text(validation="date_ymd", text_validation_min="2024-01-01")
    assert outside_range(day, "2023-12-31") and not outside_range(day, "2024-01-01")
    assert not outside_range(text(validation="integer"), "99")  # no limits, nothing refused


def test_queue_conditions_combine_as_redcap_says():
    both = {"condition_surveycomplete_survey_id": "a", "condition_logic": "[x] = 1"}
    assert QueueCondition.of(both).met(True, True)
    assert not QueueCondition.of(both).met(True, False)
    either = {**both, "condition_andor": "OR"}
    assert QueueCondition.of(either).met(False, True) and not QueueCondition.of(either).met(
        False, False
    )
    assert QueueCondition.of({"condition_logic": "[x] = 1"}).met(True, False) is False
    assert QueueCondition.of({}).met(False, False)


def test_piping_escapes_and_leaves_unknown_names():
    project = Project(
        1,
        "P",
        False,
        {},
        fields=[
            Field("record_id", "form", "text"),
            Field("name", "form", "text"),
            Field("c", "form", "radio", select_choices_or_calculations="1, <b>One</b> | 2, Two"),
            Field("k", "form", "checkbox", select_choices_or_calculations="1, A | 2, B"),
        ],
        forms=[Form("form", "Form")],
    )
    values = {"name": "<Ann & co>", "c": "1", "k": ["1", "2"]}
    lookup = lambda event, name: values.get(name)  # noqa: E731
    assert pipe(project, "Hi [name]", lookup) == "Hi &lt;Ann &amp; co&gt;"
    assert pipe(project, "Hi [name]", lookup, escape=False) == "Hi <Ann & co>"
    assert pipe(project, "[c] [c:value] [c:label]", lookup) == "One 1 One"
    assert pipe(project, "[k]; [record_id]; [nope]", lookup) == f"A, B; {BLANK}; [nope]"
    assert pipe(project, "[name][c]", lookup) == "&lt;Ann &amp; co&gt;One"  # not an event
