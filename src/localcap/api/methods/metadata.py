"""Export/Import Metadata (the data dictionary), Export Field Names, Export Instruments."""

from __future__ import annotations

from sqlalchemy import String
from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.methods.common import count_response, import_rows, list_response, require_design
from localcap.db import projects as store
from localcap.db import schema as t
from localcap.model import dictionary
from localcap.model.names import check_names, invalid_values
from localcap.model.project import METADATA_COLUMNS

#: The widest value each data dictionary column holds (its database column's width): longer
#: ones are refused with a 400 on both backends (PostgreSQL would refuse them with an error,
#: SQLite would store them).
COLUMN_WIDTHS = {
    column.name: column.type.length
    for column in t.fields.columns
    if column.name in METADATA_COLUMNS and isinstance(column.type, String) and column.type.length
}


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


def export_field_names(ctx: ApiContext) -> Response:
    ctx.require_export()
    field_name = ctx.request.get("field").strip() or None
    if field_name and ctx.project.form_of(field_name) is None:
        raise invalid_values("field", [field_name])
    rows = dictionary.export_field_names(ctx.project, field_name)
    return list_response(ctx, rows, ("original_field_name", "choice_value", "export_field_name"))


def export_instruments(ctx: ApiContext) -> Response:
    ctx.require_export()
    rows = [
        {"instrument_name": f.form_name, "instrument_label": f.form_label}
        for f in ctx.project.forms
    ]
    return list_response(ctx, rows, ("instrument_name", "instrument_label"))


def import_metadata(ctx: ApiContext) -> Response:
    require_design(ctx)
    fields = dictionary.validate_dictionary(import_rows(ctx), COLUMN_WIDTHS)
    with ctx.write_transaction() as conn:
        store.replace_metadata(conn, ctx.project, fields)
    return count_response(ctx, len(fields))
