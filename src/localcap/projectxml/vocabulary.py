"""The project XML's names for REDCap's settings and dictionary columns, in one place.

Both directions need the same tables: the importer reads the ``redcap:`` names into the data
dictionary and Export Project Info, and the exporter writes them back under the same names,
so a project survives the round trip. Keeping them here lets the exporter depend on the
vocabulary instead of on the importer.
"""

from __future__ import annotations

#: REDCap's field types in the XML -> data dictionary field types.
FIELD_TYPES = {"textarea": "notes", "select": "dropdown"}
#: REDCap's validation names in the XML -> the names its data dictionary (Export Metadata)
#: uses: REDCapR recorded ``float``/``int`` fields of its project XMLs exported as
#: ``number``/``integer`` by real REDCap.
XML_VALIDATIONS = {"float": "number", "int": "integer"}
#: ``redcap:`` ItemDef attributes -> dictionary columns (choices, label, min/max elsewhere).
ITEM_ATTRIBUTES = {
    "redcap:SectionHeader": "section_header",
    "redcap:FieldNote": "field_note",
    "redcap:TextValidationType": "text_validation_type_or_show_slider_number",
    "redcap:Identifier": "identifier",
    "redcap:BranchingLogic": "branching_logic",
    "redcap:RequiredField": "required_field",
    "redcap:CustomAlignment": "custom_alignment",
    "redcap:QuestionNumber": "question_number",
    "redcap:MatrixGroupName": "matrix_group_name",
    "redcap:MatrixRanking": "matrix_ranking",
    "redcap:FieldAnnotation": "field_annotation",
}
#: GlobalVariables settings localcap keeps in Export Project Info (element -> info key).
INFO_SETTINGS = {
    "redcap:Purpose": "purpose",
    "redcap:PurposeOther": "purpose_other",
    "redcap:ProjectNotes": "project_notes",
    "redcap:CustomRecordLabel": "custom_record_label",
    "redcap:SecondaryUniqueField": "secondary_unique_field",
    "redcap:RecordAutonumberingEnabled": "record_autonumbering_enabled",
    "redcap:SchedulingEnabled": "scheduling_enabled",
    "redcap:SurveysEnabled": "surveys_enabled",
    "redcap:RandomizationEnabled": "randomization_enabled",
    "redcap:DisplayTodayNowButton": "display_today_now_button",
    "redcap:MissingDataCodes": "missing_data_codes",
    "redcap:PreventBranchingEraseValues": "bypass_branching_erase_field_prompt",
}
INT_INFO = frozenset(
    {
        "purpose",
        "record_autonumbering_enabled",
        "scheduling_enabled",
        "surveys_enabled",
        "randomization_enabled",
        "display_today_now_button",
        "bypass_branching_erase_field_prompt",
    }
)
#: Settings localcap keeps (and exports again) but does not act on; a warning names any
#: whose value differs from REDCap's default.
SETTING_DEFAULTS = {
    "redcap:SecondaryUniqueFieldDisplayValue": "1",
    "redcap:SecondaryUniqueFieldDisplayLabel": "1",
    "redcap:DataHistoryPopup": "1",
    "redcap:taskCompleteStatus": "2",
    "redcap:SurveyAuthApplyAllSurveys": "1",
    "redcap:ProtectedEmailModeTrigger": "ALL",
    "redcap:HideFilledForms": "1",
}
#: Info key under which those kept-but-unused settings live (exported back verbatim).
XML_SETTINGS_KEY = "project_xml_settings"
