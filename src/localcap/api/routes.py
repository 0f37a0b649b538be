"""Every API method in one table: which handler serves each (``content``, ``action``).

The order is REDCap's API documentation's (its sections: Arms, Data Access Groups, Events,
Field Names, Files, File Repository, Instruments, Logging, Metadata, Projects, Records,
Repeating Instruments and Events, Reports, REDCap, Surveys, Users, User Roles), so the table
reads side by side with it. README's method table names the same modules
(``tests/api/test_routes.py`` keeps the two in step). A request's ``action`` is defaulted by
:func:`localcap.api.dispatch.resolve_action` before it is looked up here.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from localcap.api.context import ApiContext
from localcap.api.methods import (
    arms_events,
    audit_log,
    dags,
    file_repository,
    files,
    metadata,
    pdf,
    project,
    project_xml,
    records,
    reports,
    surveys,
    user_roles,
    users,
    version,
)

Handler = Callable[[ApiContext], Response]

#: (content, action) -> handler, in REDCap's documentation order.
ROUTES: dict[tuple[str, str], Handler] = {
    # Arms
    ("arm", "export"): arms_events.export_arms,
    ("arm", "import"): arms_events.import_arms,
    ("arm", "delete"): arms_events.delete_arms,
    # Data Access Groups
    ("dag", "export"): dags.export_dags,
    ("dag", "import"): dags.import_dags,
    ("dag", "delete"): dags.delete_dags,
    ("dag", "switch"): dags.switch_dag,
    ("userDagMapping", "export"): dags.export_user_dags,
    ("userDagMapping", "import"): dags.import_user_dags,
    # Events
    ("event", "export"): arms_events.export_events,
    ("event", "import"): arms_events.import_events,
    ("event", "delete"): arms_events.delete_events,
    # Field Names
    ("exportFieldNames", "export"): metadata.export_field_names,
    # Files
    ("file", "export"): files.export_file,
    ("file", "import"): files.import_file,
    ("file", "delete"): files.delete_file,
    # File Repository
    ("fileRepository", "createFolder"): file_repository.create_folder,
    ("fileRepository", "list"): file_repository.list_folder,
    ("fileRepository", "export"): file_repository.export_file,
    ("fileRepository", "import"): file_repository.import_file,
    ("fileRepository", "delete"): file_repository.delete_file,
    # Instruments
    ("instrument", "export"): metadata.export_instruments,
    ("pdf", "export"): pdf.export_pdf,
    ("formEventMapping", "export"): arms_events.export_mapping,
    ("formEventMapping", "import"): arms_events.import_mapping,
    # Logging
    ("log", "export"): audit_log.export_logging,
    # Metadata
    ("metadata", "export"): metadata.export_metadata,
    ("metadata", "import"): metadata.import_metadata,
    # Projects
    ("project", "import"): project.create_project,
    ("project_settings", "import"): project.import_project_info,
    ("project", "export"): project.export_project_info,
    ("project_xml", "export"): project_xml.export_project_xml,
    # Records
    ("record", "export"): records.export_records,
    ("record", "import"): records.import_records,
    ("record", "delete"): records.delete_records,
    ("record", "rename"): records.rename_record,
    ("generateNextRecordName", "export"): records.generate_next_record_name,
    # Repeating Instruments and Events
    ("repeatingFormsEvents", "export"): arms_events.export_repeating,
    ("repeatingFormsEvents", "import"): arms_events.import_repeating,
    # Reports (import and list are localcap's own)
    ("report", "export"): reports.export_report,
    ("report", "import"): reports.import_reports,
    ("report", "list"): reports.list_report_definitions,
    # REDCap
    ("version", "export"): version.export_version,
    # Surveys
    ("participantList", "export"): surveys.export_participant_list,
    ("surveyLink", "export"): surveys.export_survey_link,
    ("surveyQueueLink", "export"): surveys.export_survey_queue_link,
    ("surveyReturnCode", "export"): surveys.export_survey_return_code,
    ("surveyAccessCode", "export"): surveys.export_survey_access_code,
    # Users
    ("user", "export"): users.export_users,
    ("user", "import"): users.import_users,
    ("user", "delete"): users.delete_users,
    # User Roles
    ("userRole", "export"): user_roles.export_user_roles,
    ("userRole", "import"): user_roles.import_user_roles,
    ("userRole", "delete"): user_roles.delete_user_roles,
    ("userRoleMapping", "export"): user_roles.export_user_role_mapping,
    ("userRoleMapping", "import"): user_roles.import_user_role_mapping,
}

#: Every ``content`` some route serves (anything else is REDCap's "content is not valid").
CONTENTS = frozenset(content for content, _ in ROUTES)
#: Contents that a super token may call (everything else needs a project token).
SUPER_CONTENTS = frozenset({"project", "version"})
