"""The data dictionary rules (model/dictionary.py), in-process: no server, no database."""

from __future__ import annotations

import pytest

from localcap.model.dictionary import DictionaryError, validate_dictionary
from localcap.model.errors import DomainError

WIDTHS = {"field_name": 100, "field_label": 20}


def row(name: str, form: str = "demo", ftype: str = "text", **more: str) -> dict[str, str]:
    return {"field_name": name, "form_name": form, "field_type": ftype, **more}


def problems(rows: list[dict[str, str]]) -> list[str]:
    with pytest.raises(DictionaryError) as refused:
        validate_dictionary(rows, WIDTHS)
    assert isinstance(refused.value, DomainError)  # dispatch answers it with a 400
    return refused.value.message.split("\n")


def test_a_valid_dictionary_gives_its_fields_normalised():
    fields = validate_dictionary(
        [
            row(" record_id ", " demo ", " TEXT "),
            row("sex", ftype="radio", select_choices_or_calculations="1, M | 2, F"),
            row("age", ftype="text", text_validation_type_or_show_slider_number=" integer "),
            row("sign", "consent", "file", identifier=" Y ", required_field="y"),
        ],
        WIDTHS,
    )
    assert [(f.field_name, f.form_name, f.field_type) for f in fields] == [
        ("record_id", "demo", "text"),
        ("sex", "demo", "radio"),
        ("age", "demo", "text"),
        ("sign", "consent", "file"),
    ]
    assert fields[1].select_choices_or_calculations == "1, M | 2, F"  # kept as sent
    assert fields[2].validation == "integer"
    assert (fields[3].identifier, fields[3].required_field) == ("y", "y")


def test_every_problem_is_reported_with_its_row_in_one_message():
    assert problems(
        [
            row("record_id"),
            row("Bad"),
            row("record_id"),
            row("c", ftype="checkbox"),
            row("k", ftype="calc"),
            row("t", ftype="text", text_validation_type_or_show_slider_number="nope"),
            row("f", ftype="file", text_validation_type_or_show_slider_number="integer"),
            row("i", identifier="yes", required_field="1"),
            row("l", field_label="x" * 21),
            row("w", ftype="widget"),
            row("x", "Form"),
        ]
    ) == [
        "row 3 (field 'Bad'): the variable name must start with a lower-case letter and hold "
        "only lower-case letters, numbers and underscores",
        "row 4 (field 'record_id'): the variable name is used more than once",
        "row 5 (field 'c'): a checkbox field needs choices ('1, Yes | 2, No')",
        "row 6 (field 'k'): a calc field needs a calculation",
        "row 7 (field 't'): 'nope' is not a valid validation type",
        "row 8 (field 'f'): a file field's validation can only be 'signature'",
        "row 9 (field 'i'): identifier must be 'y' or blank",
        "row 9 (field 'i'): required_field must be 'y' or blank",
        "row 10 (field 'l'): the field_label is longer than 20 characters",
        "row 11 (field 'w'): 'widget' is not a valid field type",
        "row 12 (field 'x'): the form name 'Form' is not valid",
    ]


def test_a_form_split_in_two_is_refused():
    assert problems([row("record_id", "a"), row("x", "b"), row("y", "a")]) == [
        "row 4 (field 'y'): the fields of form 'a' must be next to each other"
    ]


def test_the_whole_dictionary_rules():
    assert problems([]) == ["The data dictionary must contain at least one field"]
    assert problems([row("record_id", ftype="notes")]) == [
        "The first field (the record ID field) must be a text field"
    ]
    assert problems([row("record_id", "demo"), row("demo_complete", "demo")]) == [
        "These variable names are reserved for form status: demo_complete"
    ]
