"""The Delete Records use case: plan under the project's write lock, then apply the plan."""

from __future__ import annotations

from sqlalchemy import Connection

from localcap.db import records as rows_store
from localcap.db import surveys as survey_store
from localcap.db.documents import delete_document
from localcap.model.project import Project
from localcap.model.record_delete import DeletePlan, DeleteRequest, plan_delete


def delete_records(
    conn: Connection, project: Project, request: DeleteRequest, group_id: int | None
) -> tuple[DeletePlan, list[str]]:
    """Carry out ``request`` in ``conn`` (the project's write transaction; ``project`` is the
    design as of its lock) for a caller in DAG ``group_id``. Returns the plan and the store
    keys of the documents deleted: their bytes go once the transaction has committed."""
    pid = project.project_id
    rows = rows_store.load_rows(conn, pid, request.records)
    existing = rows_store.existing_records(conn, pid, request.records)
    plan = plan_delete(project, request, rows, existing, group_id)
    released = []
    for value in plan.documents:
        document = delete_document(conn, pid, value)
        if document is not None:
            released.append(document.store_key)
    for update in plan.updates:
        row = update.row
        rows_store.save_row(conn, pid, row, is_new=False)
        survey_store.forget_responses(
            conn, pid, row.record, row.event_id, row.instance, update.forms
        )
    if request.whole:
        rows_store.delete_records(conn, pid, plan.gone)
        survey_store.forget_records(conn, pid, plan.gone)
    rows_store.touch_records(conn, pid, plan.touched)
    return plan, released
