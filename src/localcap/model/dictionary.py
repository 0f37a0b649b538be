"""REDCap's rules for a data dictionary (Import Metadata) and the names its fields take in
exports (Export Field Names), without HTTP or a database.

Every problem is collected, with the row number a spreadsheet would show (the header is row
1), and reported in one message, so a client fixes its file in one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from localcap.model.errors import DomainError
from localcap.model.project import (
    FIELD_TYPES,
    METADATA_COLUMNS,
    Field,
    Project,
    checkbox_column,
    parse_choices,
)
from localcap.model.validation import VALIDATION_TYPES

#: A variable or instrument name: a lower-case letter, then lower-case letters, digits and _.
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CHOICE_TYPES = ("radio", "dropdown", "checkbox")


class DictionaryError(DomainError):
    """A data dictionary REDCap would refuse; the message lists every problem, one a line."""


def validate_dictionary(rows: list[dict[str, str]], widths: Mapping[str, int]) -> list[Field]:
    """The fields of a submitted dictionary, checked the way REDCap does. ``widths``: the
    widest value each column may hold (the storage's limits, so that both database backends
    refuse the same values). Raises :class:`DictionaryError` naming every problem."""
    errors: list[str] = []
    fields: list[Field] = []
    seen: set[str] = set()
    forms_seen: list[str] = []
    for number, row in enumerate(rows, start=2):
        values = _normalised(row)
        where = f"row {number} (field '{values['field_name']}')"
        errors += _name_problems(where, values, seen, forms_seen)
        errors += _row_problems(where, values, widths)
        fields.append(Field(**values))
    errors += _dictionary_problems(fields, seen, forms_seen)
    if errors:
        raise DictionaryError("\n".join(errors))
    return fields


def _normalised(row: Mapping[str, object]) -> dict[str, str]:
    """Every metadata column as text; names, type and the y/blank columns trimmed (and
    lower-cased where REDCap is case-blind)."""
    values = {c: str(row.get(c, "") or "") for c in METADATA_COLUMNS}
    values.update(
        field_name=values["field_name"].strip(),
        form_name=values["form_name"].strip(),
        field_type=values["field_type"].strip().lower(),
        identifier=values["identifier"].strip().lower(),
        required_field=values["required_field"].strip().lower(),
        text_validation_type_or_show_slider_number=values[
            "text_validation_type_or_show_slider_number"
        ].strip(),
    )
    return values


def _name_problems(
    where: str, values: dict[str, str], seen: set[str], forms_seen: list[str]
) -> list[str]:
    """The variable and form name rules; records the names in ``seen`` and ``forms_seen``
    (the forms in order of first appearance) for the rows that follow."""
    errors = []
    name, form = values["field_name"], values["form_name"]
    if not NAME.match(name):
        errors.append(
            f"{where}: the variable name must start with a lower-case letter and hold only "
            "lower-case letters, numbers and underscores"
        )
    elif name in seen:
        errors.append(f"{where}: the variable name is used more than once")
    seen.add(name)
    if not NAME.match(form):
        errors.append(f"{where}: the form name '{form}' is not valid")
    elif form in forms_seen and forms_seen[-1] != form:
        errors.append(f"{where}: the fields of form '{form}' must be next to each other")
    if not forms_seen or forms_seen[-1] != form:
        forms_seen.append(form)
    return errors


def _row_problems(where: str, values: dict[str, str], widths: Mapping[str, int]) -> list[str]:
    """The rules of one field's type, choices, validation, flags and column widths."""
    errors = []
    ftype = values["field_type"]
    if ftype not in FIELD_TYPES:
        errors.append(f"{where}: '{ftype}' is not a valid field type")
    choices_text = values["select_choices_or_calculations"]
    # Choices are kept as sent: REDCapR recorded '1, Yup | 2, Nope | 3, Other' exported unchanged.
    if ftype in CHOICE_TYPES and not parse_choices(choices_text):
        errors.append(f"{where}: a {ftype} field needs choices ('1, Yes | 2, No')")
    if ftype == "calc" and not choices_text.strip():
        errors.append(f"{where}: a calc field needs a calculation")
    validation = values["text_validation_type_or_show_slider_number"]
    if ftype == "text" and validation and validation not in VALIDATION_TYPES:
        errors.append(f"{where}: '{validation}' is not a valid validation type")
    if ftype == "file" and validation not in ("", "signature"):
        errors.append(f"{where}: a file field's validation can only be 'signature'")
    if values["identifier"] not in ("", "y"):
        errors.append(f"{where}: identifier must be 'y' or blank")
    if values["required_field"] not in ("", "y"):
        errors.append(f"{where}: required_field must be 'y' or blank")
    errors.extend(
        f"{where}: the {column} is longer than {width} characters"
        for column, width in widths.items()
        if len(values[column]) > width
    )
    return errors


def _dictionary_problems(fields: list[Field], seen: set[str], forms_seen: list[str]) -> list[str]:
    """The rules of the dictionary as a whole: a text record ID field first, at least one
    field, and no variable named like a form's status field (``<form>_complete``)."""
    errors = []
    if fields and fields[0].field_type != "text":
        errors.append("The first field (the record ID field) must be a text field")
    if not fields:
        errors.append("The data dictionary must contain at least one field")
    clashes = sorted(seen & {f"{form}_complete" for form in forms_seen})
    if clashes:
        errors.append(f"These variable names are reserved for form status: {', '.join(clashes)}")
    return errors


def export_field_names(project: Project, field_name: str | None = None) -> list[dict[str, str]]:
    """What each field is called in exports. As PyCap's doctest records from real REDCap:
    checkboxes expand, each instrument ends with its ``<form>_complete``, and file upload and
    descriptive fields (which hold no exportable value) are left out."""
    rows = []
    for form in project.forms:
        names = [f for f in project.form_fields.get(form.form_name, []) if f.field_type != "file"]
        for f in names:
            if field_name and f.field_name != field_name:
                continue
            if f.field_type == "checkbox":
                rows.extend(
                    {
                        "original_field_name": f.field_name,
                        "choice_value": code,
                        "export_field_name": checkbox_column(f.field_name, code),
                    }
                    for code in f.choices
                )
            else:
                rows.append(
                    {
                        "original_field_name": f.field_name,
                        "choice_value": "",
                        "export_field_name": f.field_name,
                    }
                )
        complete = form.complete_field
        if not field_name or field_name == complete:
            rows.append(
                {"original_field_name": complete, "choice_value": "", "export_field_name": complete}
            )
    return rows
