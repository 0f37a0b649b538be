"""The data dictionary of an imported project, built from the collected design.

A project XML describes fields as ODM items (one per export column, with ``redcap:``
attributes for the dictionary columns) grouped into forms; this module turns them back into
the :class:`Field` rows Import Metadata would have stored, in REDCap's field order.
"""

from __future__ import annotations

from localcap.model.project import Field, format_choices
from localcap.projectxml.importer.design import Design, Item
from localcap.projectxml.importer.warninglist import Warnings
from localcap.projectxml.safexml import ProjectXmlError
from localcap.projectxml.vocabulary import FIELD_TYPES, ITEM_ATTRIBUTES, XML_VALIDATIONS

#: Export-only columns that are not fields of the dictionary.
PSEUDO_ITEMS = ("redcap_data_access_group", "redcap_survey_identifier")


def design_fields(design: Design, warnings: Warnings) -> list[Field]:
    """The data dictionary: forms in order, their item groups' variables in order."""
    fields: list[Field] = []
    seen: set[str] = set()
    for form_name, _label, groups in design.forms:
        for group in groups:
            for oid, variable in design.item_groups.get(group, []):
                item = design.items.get(oid)
                if variable in seen or variable in PSEUDO_ITEMS or item is None:
                    continue
                if variable in (f"{form_name}_complete", f"{form_name}_timestamp"):
                    continue
                if "redcap:FieldType" not in item.attrs:
                    continue  # survey timestamps and other automatic columns
                seen.add(variable)
                fields.append(_field(design, item, form_name, warnings))
    record_field = design.record_id_field
    if record_field and fields and fields[0].field_name != record_field:
        raise ProjectXmlError(
            f"The record ID field {record_field} is not the first field of the first form"
        )
    return fields


def _choices(design: Design, item: Item, field_type: str, warnings: Warnings) -> str:
    """The dictionary's choices/calculation column, which the XML keeps in a different
    place for each field type."""
    a = item.attrs
    codelist = design.codelists.get(item.codelist)
    choices = ""
    if field_type == "calc":
        choices = a.get("redcap:Calculation", "")
    elif field_type == "checkbox":
        choices = a.get("redcap:CheckboxChoices") or (
            codelist.attrs.get("redcap:CheckboxChoices", "") if codelist else ""
        )
    elif field_type in ("radio", "dropdown"):
        choices = format_choices(dict(codelist.items)) if codelist else ""
    elif field_type == "slider":
        choices = a.get("redcap:SliderLabels", "")
    elif field_type == "sql":
        choices = a.get("redcap:SqlQuery", "")
        if not choices:
            warnings.add(
                f"The SQL query of the sql field '{item.variable}' is not in the XML: the "
                "field was imported without it"
            )
    return choices


def _field(design: Design, item: Item, form_name: str, warnings: Warnings) -> Field:
    a = item.attrs
    raw_type = a.get("redcap:FieldType", "text")
    field_type = FIELD_TYPES.get(raw_type, raw_type)
    values = {column: a.get(attr, "") for attr, column in ITEM_ATTRIBUTES.items()}
    validation = values["text_validation_type_or_show_slider_number"]
    if field_type == "text" and validation in XML_VALIDATIONS:
        values["text_validation_type_or_show_slider_number"] = XML_VALIDATIONS[validation]
    choices = _choices(design, item, field_type, warnings)
    label = item.formatted_label if item.formatted_label is not None else item.label
    return Field(
        field_name=item.variable,
        form_name=form_name,
        field_type=field_type,
        field_label=label,
        select_choices_or_calculations=choices,
        text_validation_min=item.minimum,
        text_validation_max=item.maximum,
        **values,
    )
