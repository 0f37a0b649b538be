"""Export/Import Metadata (the data dictionary), Export Field Names, Export Instruments."""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import String
from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.errors import ApiError
from localcap.api.methods.common import count_response, import_rows, list_response, require_design
from localcap.db import projects as store
from localcap.db import schema as t
from localcap.model.project import (
    FIELD_TYPES,
    METADATA_COLUMNS,
    Field,
    Project,
    checkbox_column,
    parse_choices,
)
from localcap.model.validation import VALIDATION_TYPES

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: The widest value each data dictionary column holds (its database column's width): longer
#: ones are refused with a 400 on both backends (PostgreSQL would refuse them with an error,
#: SQLite would store them).
COLUMN_WIDTHS = {
    column.name: column.type.length
    for column in t.fields.columns
    if column.name in METADATA_COLUMNS and isinstance(column.type, String) and column.type.length
}


def invalid_values(param: str, values: list[str]) -> ApiError:
    joined = ", ".join(f"'{v}'" for v in values)
    return ApiError(400, f'The following values in the parameter "{param}" are not valid: {joined}')


def required_names(ctx: ApiContext, param: str, known: Collection[str]) -> list[str]:
    """A required array parameter (deletes): 400 when missing or naming unknown items."""
    names = ctx.request.list(param) or []
    if not names:
        raise ApiError(400, f"The parameter '{param}' is missing")
    check_names(param, names, known)
    return names


def check_names(param: str, requested: list[str] | None, known: Collection[str]) -> None:
    if requested:
        bad = [name for name in requested if name not in known]
        if bad:
            raise invalid_values(param, bad)


def export_metadata(ctx: ApiContext) -> Response:
    ctx.require_export()
    project = ctx.project
    wanted_fields = ctx.request.list("fields")
    wanted_forms = ctx.request.list("forms")
    check_names("fields", wanted_fields, set(project.field_by_name))
    check_names("forms", wanted_forms, set(project.form_by_name))
    rows = [
        f.as_metadata()
        for f in project.fields
        if (not wanted_fields and not wanted_forms)
        or (wanted_fields and f.field_name in wanted_fields)
        or (wanted_forms and f.form_name in wanted_forms)
    ]
    return list_response(ctx, rows, METADATA_COLUMNS)


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


def export_field_names_method(ctx: ApiContext) -> Response:
    ctx.require_export()
    field_name = ctx.request.get("field").strip() or None
    if field_name and ctx.project.form_of(field_name) is None:
        raise invalid_values("field", [field_name])
    rows = export_field_names(ctx.project, field_name)
    return list_response(ctx, rows, ("original_field_name", "choice_value", "export_field_name"))


def export_instruments(ctx: ApiContext) -> Response:
    ctx.require_export()
    rows = [
        {"instrument_name": f.form_name, "instrument_label": f.form_label}
        for f in ctx.project.forms
    ]
    return list_response(ctx, rows, ("instrument_name", "instrument_label"))


def validate_dictionary(rows: list[dict[str, str]]) -> list[Field]:
    """Check a submitted data dictionary the way REDCap does; all problems in one message."""
    errors: list[str] = []
    result: list[Field] = []
    seen: set[str] = set()
    forms_seen: list[str] = []
    for number, row in enumerate(rows, start=2):
        values = {c: str(row.get(c, "") or "") for c in METADATA_COLUMNS}
        name = values["field_name"].strip()
        form = values["form_name"].strip()
        ftype = values["field_type"].strip().lower()
        where = f"row {number} (field '{name}')"
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
        if ftype not in FIELD_TYPES:
            errors.append(f"{where}: '{ftype}' is not a valid field type")
        choices_text = values["select_choices_or_calculations"]
        if ftype in ("radio", "dropdown", "checkbox"):
            choices = parse_choices(choices_text)
            if not choices:
                errors.append(f"{where}: a {ftype} field needs choices ('1, Yes | 2, No')")
            # kept as sent: REDCapR recorded '1, Yup | 2, Nope | 3, Other' exported unchanged
        if ftype == "calc" and not choices_text.strip():
            errors.append(f"{where}: a calc field needs a calculation")
        validation = values["text_validation_type_or_show_slider_number"].strip()
        if ftype == "text" and validation and validation not in VALIDATION_TYPES:
            errors.append(f"{where}: '{validation}' is not a valid validation type")
        if ftype == "file" and validation not in ("", "signature"):
            errors.append(f"{where}: a file field's validation can only be 'signature'")
        identifier = values["identifier"].strip().lower()
        if identifier not in ("", "y"):
            errors.append(f"{where}: identifier must be 'y' or blank")
        required = values["required_field"].strip().lower()
        if required not in ("", "y"):
            errors.append(f"{where}: required_field must be 'y' or blank")
        values.update(
            field_name=name,
            form_name=form,
            field_type=ftype,
            identifier=identifier,
            required_field=required,
            text_validation_type_or_show_slider_number=validation,
        )
        for column, width in COLUMN_WIDTHS.items():
            if len(values[column]) > width:
                errors.append(f"{where}: the {column} is longer than {width} characters")
        result.append(Field(**values))
    if result and result[0].field_type != "text":
        errors.append("The first field (the record ID field) must be a text field")
    if not result:
        errors.append("The data dictionary must contain at least one field")
    forms_complete = {f"{form}_complete" for form in forms_seen}
    clashes = sorted(seen & forms_complete)
    if clashes:
        errors.append(f"These variable names are reserved for form status: {', '.join(clashes)}")
    if errors:
        raise ApiError(400, "\n".join(errors))
    return result


def import_metadata(ctx: ApiContext) -> Response:
    require_design(ctx)
    fields = validate_dictionary(import_rows(ctx))
    with ctx.write_transaction() as conn:
        store.replace_metadata(conn, ctx.project, fields)
    return count_response(ctx, len(fields))
