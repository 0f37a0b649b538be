"""``MetaDataVersion``: events, forms, item groups, one ItemDef per export column and the code
lists, with every data dictionary column in ``redcap:`` attributes so that an import
restores the dictionary exactly.
"""

from __future__ import annotations

from localcap.model.project import (
    FORM_STATUS_LABELS,
    Field,
    checkbox_column,
    strip_tags,
)
from localcap.projectxml.exporter.context import ScopedWriter
from localcap.projectxml.exporter.xmltext import attr, codelist_items, question, text
from localcap.projectxml.vocabulary import (
    XML_VALIDATIONS,
)

#: Dictionary columns -> ``redcap:`` ItemDef attributes, in the order REDCap writes them.
ITEM_ATTRIBUTE_ORDER = (
    ("text_validation_type_or_show_slider_number", "redcap:TextValidationType"),
    ("field_note", "redcap:FieldNote"),
    ("section_header", "redcap:SectionHeader"),
    ("identifier", "redcap:Identifier"),
    ("branching_logic", "redcap:BranchingLogic"),
    ("custom_alignment", "redcap:CustomAlignment"),
    ("question_number", "redcap:QuestionNumber"),
    ("matrix_group_name", "redcap:MatrixGroupName"),
    ("matrix_ranking", "redcap:MatrixRanking"),
    ("required_field", "redcap:RequiredField"),
    ("field_annotation", "redcap:FieldAnnotation"),
)
XML_TYPES = {"notes": "textarea", "dropdown": "select"}
#: The dictionary's ``number``/``integer`` are ``float``/``int`` in REDCap's XML.
DICTIONARY_TO_XML_VALIDATIONS = {v: k for k, v in XML_VALIDATIONS.items()}


def _data_type(f: Field) -> tuple[str, str]:
    v = f.validation
    if f.field_type in ("yesno", "truefalse", "checkbox"):
        return "boolean", "1"
    if f.field_type in ("radio", "dropdown"):
        return "text", "1"
    if f.field_type == "calc":
        return "float", "999"
    if f.field_type == "slider":
        return "integer", "999"
    if f.field_type == "text":
        if v.startswith("datetime"):
            return "datetime", "999"
        if v.startswith("date"):
            return "date", "999"
        if v in ("int", "integer"):
            return "integer", "999"
        if v in ("float", "number") or v.startswith("number_"):
            return "float", "999"
    return "text", "999"


class MetadataWriter(ScopedWriter):
    """The ``MetaDataVersion`` element."""

    def metadata(self) -> str:
        p = self.project
        out = [
            f"<MetaDataVersion OID={attr(self.scope.metadata_oid)} Name={attr(p.project_title)} "
            f"redcap:RecordIdField={attr(p.record_id_field)}>\n"
        ]
        if p.is_longitudinal:
            out.append("\t<Protocol>\n")
            for i, e in enumerate(p.events, start=1):
                out.append(
                    f"\t\t<StudyEventRef StudyEventOID={attr('Event.' + e.unique_event_name)} "
                    f'OrderNumber="{i}" Mandatory="No"/>\n'
                )
            out.append("\t</Protocol>\n")
            for e in p.events:
                arm = p.arm_by_num.get(e.arm_num)
                arm_name = arm.name if arm else f"Arm {e.arm_num}"
                repeating = "Yes" if p.is_repeating_event(e.event_id) else "No"
                out.append(
                    f"\t<StudyEventDef OID={attr('Event.' + e.unique_event_name)} "
                    f"Name={attr(p.event_label(e))} "
                    f'Type="Common" Repeating="{repeating}" redcap:EventName={attr(e.event_name)} '
                    f"redcap:CustomEventLabel={attr(e.custom_event_label)} "
                    f"redcap:UniqueEventName={attr(e.unique_event_name)} "
                    f'redcap:ArmNum="{e.arm_num}" redcap:ArmName={attr(arm_name)} '
                    f"redcap:DayOffset={attr(e.day_offset)} redcap:OffsetMin={attr(e.offset_min)} "
                    f"redcap:OffsetMax={attr(e.offset_max)}>\n"
                )
                for i, form in enumerate(p.forms_in_event(e.event_id), start=1):
                    out.append(
                        f'\t\t<FormRef FormOID={attr("Form." + form)} OrderNumber="{i}" '
                        f'Mandatory="No" redcap:FormName={attr(form)}/>\n'
                    )
                out.append("\t</StudyEventDef>\n")
        groups = self._item_groups()
        for form in p.forms:
            out.append(
                f"\t<FormDef OID={attr('Form.' + form.form_name)} Name={attr(form.form_label)} "
                f'Repeating="No" redcap:FormName={attr(form.form_name)}>\n'
            )
            for oid, _name, _items in groups[form.form_name]:
                out.append(f'\t\t<ItemGroupRef ItemGroupOID={attr(oid)} Mandatory="No"/>\n')
            out.append("\t</FormDef>\n")
        for form in p.forms:
            for oid, name, items in groups[form.form_name]:
                out.append(f'\t<ItemGroupDef OID={attr(oid)} Name={attr(name)} Repeating="No">\n')
                for column, variable in items:
                    out.append(
                        f'\t\t<ItemRef ItemOID={attr(column)} Mandatory="No" '
                        f"redcap:Variable={attr(variable)}/>\n"
                    )
                out.append("\t</ItemGroupDef>\n")
        codelists: list[str] = []
        for form in p.forms:
            for _oid, _name, items in groups[form.form_name]:
                for column, variable in items:
                    out.append(self._item_def(column, variable, form.form_name, codelists))
        out.extend(codelists)
        out.append("</MetaDataVersion>\n")
        return "".join(out)

    def _item_groups(self) -> dict[str, list[tuple[str, str, list[tuple[str, str]]]]]:
        """Form -> item groups (OID, name, [(column, variable)]): a group starts at the form's
        first field and at each section header; ``<form>_complete`` has its own."""
        p = self.project
        result: dict[str, list[tuple[str, str, list[tuple[str, str]]]]] = {}
        record_field = p.record_id_field
        for form in p.forms:
            groups: list[tuple[str, str, list[tuple[str, str]]]] = []
            fields = p.form_fields.get(form.form_name, [])
            pending: list[tuple[str, str]] = []
            if form.form_name in self.scope.survey_forms:
                pending.append((f"{form.form_name}_timestamp", f"{form.form_name}_timestamp"))
            for f in [x for x in p.fields if x.form_name == form.form_name]:
                columns = (
                    [(checkbox_column(f.field_name, c), f.field_name) for c in f.choices]
                    if f.field_type == "checkbox"
                    else [(f.field_name, f.field_name)]
                )
                if not groups or f.section_header:
                    name = strip_tags(f.section_header) if f.section_header else form.form_label
                    groups.append((f"{form.form_name}.{columns[0][0]}", name, []))
                groups[-1][2].extend(columns)
                if f.field_name == record_field:
                    if self.scope.with_dags:
                        groups[-1][2].append(("redcap_data_access_group",) * 2)
                    if self.scope.survey_forms:
                        groups[-1][2].append(("redcap_survey_identifier",) * 2)
                if pending and f in fields:
                    groups[-1][2].extend(pending)
                    pending = []
            complete = form.complete_field
            groups.append((f"{form.form_name}.{complete}", "Form Status", [(complete, complete)]))
            result[form.form_name] = groups
        return result

    def _item_def(self, column: str, variable: str, form: str, codelists: list[str]) -> str:
        """The ItemDef of one export column; a code list it refers to goes to ``codelists``
        (REDCap writes them all after the last ItemDef)."""
        if variable == f"{form}_complete":
            return _form_status_item(column, codelists)
        f = self.project.field_by_name.get(variable)
        if f is None:  # automatic columns: DAG, survey identifier, survey timestamp
            return _automatic_item(column, variable)
        body = question(f.field_label) + _range_checks(f)
        if f.choices:
            body += _choice_list(f, column, variable, codelists)
        return (
            "\t<ItemDef "
            + " ".join(f"{k}={attr(v)}" for k, v in _field_attrs(f, column, variable))
            + ">\n"
            f"{body}\t</ItemDef>\n"
        )


def _form_status_item(column: str, codelists: list[str]) -> str:
    """``<form>_complete``: a select of REDCap's three form statuses."""
    codelists.append(
        f"\t<CodeList OID={attr(column + '.choices')} Name={attr(column)} "
        f'DataType="text" redcap:Variable={attr(column)}>\n'
        + codelist_items(FORM_STATUS_LABELS.items())
        + "\t</CodeList>\n"
    )
    return (
        f'\t<ItemDef OID={attr(column)} Name={attr(column)} DataType="text" Length="1" '
        f'redcap:Variable={attr(column)} redcap:FieldType="select" '
        'redcap:SectionHeader="Form Status">\n'
        + question("Complete?")
        + f"\t\t<CodeListRef CodeListOID={attr(column + '.choices')}/>\n\t</ItemDef>\n"
    )


def _automatic_item(column: str, variable: str) -> str:
    """A column that is no field of the dictionary: DAG, survey identifier or timestamp."""
    labels = {
        "redcap_data_access_group": "Data Access Group",
        "redcap_survey_identifier": "Survey Identifier",
    }
    data_type = "datetime" if variable.endswith("_timestamp") else "text"
    return (
        f'\t<ItemDef OID={attr(column)} Name={attr(column)} DataType="{data_type}" '
        f'Length="999" redcap:Variable={attr(variable)}>\n'
        + question(labels.get(variable, "Survey Timestamp"))
        + "\t</ItemDef>\n"
    )


def _field_attrs(f: Field, column: str, variable: str) -> list[tuple[str, str]]:
    """The ItemDef's attributes: ODM's own, then the dictionary's in ``redcap:`` ones."""
    data_type, length = _data_type(f)
    attrs: list[tuple[str, str]] = [
        ("OID", column),
        ("Name", column),
        ("DataType", data_type),
        ("Length", length),
        ("redcap:Variable", variable),
        ("redcap:FieldType", XML_TYPES.get(f.field_type, f.field_type)),
    ]
    if f.field_type == "slider" and f.select_choices_or_calculations:
        attrs.append(("redcap:SliderLabels", f.select_choices_or_calculations))
    if f.field_type == "calc":
        attrs.append(("redcap:Calculation", f.select_choices_or_calculations))
    if f.field_type == "sql":
        attrs.append(("redcap:SqlQuery", f.select_choices_or_calculations))
    for column_name, attribute in ITEM_ATTRIBUTE_ORDER:
        value = getattr(f, column_name)
        if column_name == "text_validation_type_or_show_slider_number" and f.field_type == "text":
            value = DICTIONARY_TO_XML_VALIDATIONS.get(value, value)
        if value:
            attrs.append((attribute, value))
    return attrs


def _range_checks(f: Field) -> str:
    """A text field's min/max as soft RangeChecks, with REDCap's message."""
    if not (f.field_type == "text" and (f.text_validation_min or f.text_validation_max)):
        return ""
    message = (
        "The value you provided is outside the suggested range "
        f"({f.text_validation_min or 'no limit'} - {f.text_validation_max or 'no limit'})."
        " This value is admissible, but you may wish to double check it."
    )
    body = ""
    for comparator, value in (("GE", f.text_validation_min), ("LE", f.text_validation_max)):
        if value:
            body += (
                f'\t\t<RangeCheck Comparator="{comparator}" SoftHard="Soft">\n'
                f"\t\t\t<CheckValue>{text(value)}</CheckValue>\n"
                f"\t\t\t<ErrorMessage><TranslatedText>{text(message)}</TranslatedText>"
                "</ErrorMessage>\n\t\t</RangeCheck>\n"
            )
    return body


def _choice_list(f: Field, column: str, variable: str, codelists: list[str]) -> str:
    """The CodeListRef of a field with choices; its CodeList goes to ``codelists`` (a
    checkbox column is a boolean, its choices kept whole in ``redcap:CheckboxChoices``)."""
    list_oid = f"{column}.choices"
    if f.field_type == "checkbox":
        items = codelist_items([("1", "Checked"), ("0", "Unchecked")])
        extra = f" redcap:CheckboxChoices={attr(f.select_choices_or_calculations)}"
        kind = "boolean"
    else:
        items = codelist_items(f.choices.items())
        extra = ""
        kind = "boolean" if f.field_type in ("yesno", "truefalse") else "text"
    codelists.append(
        f'\t<CodeList OID={attr(list_oid)} Name={attr(column)} DataType="{kind}" '
        f"redcap:Variable={attr(variable)}{extra}>\n{items}\t</CodeList>\n"
    )
    return f"\t\t<CodeListRef CodeListOID={attr(list_oid)}/>\n"
