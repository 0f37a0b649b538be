"""One module per API method family; importing this package registers them all."""

from localcap.api.methods import (  # noqa: F401
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
