"""The relational schema, as SQLAlchemy Core tables shared by SQLite and PostgreSQL.

Record data is stored one row per (record, event, repeat instrument, instance) holding a JSON
object of the values on that row, rather than one row per value as REDCap's EAV table does:
a flat export then reads one database row per output row, in order, and memory stays flat.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Record names and sort keys must order bytewise on every backend.
SortableText = String(255).with_variant(String(255, collation="C"), "postgresql")

projects = Table(
    "projects",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=True),
    Column("project_title", Text, nullable=False),
    Column("is_longitudinal", Boolean, nullable=False, default=False),
    # Every other Export/Import Project Info attribute, as a JSON object.
    Column("info", Text, nullable=False, default="{}"),
    # Bumped on every design change so cached project models can be invalidated.
    Column("design_version", Integer, nullable=False, default=0),
    sqlite_autoincrement=True,
)

fields = Table(
    "fields",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("field_name", String(100), primary_key=True),
    Column("field_order", Integer, nullable=False),
    Column("form_name", String(100), nullable=False),
    Column("section_header", Text, nullable=False, default=""),
    Column("field_type", String(20), nullable=False),
    Column("field_label", Text, nullable=False, default=""),
    Column("select_choices_or_calculations", Text, nullable=False, default=""),
    Column("field_note", Text, nullable=False, default=""),
    Column("text_validation_type_or_show_slider_number", String(50), nullable=False, default=""),
    Column("text_validation_min", String(100), nullable=False, default=""),
    Column("text_validation_max", String(100), nullable=False, default=""),
    Column("identifier", String(1), nullable=False, default=""),
    Column("branching_logic", Text, nullable=False, default=""),
    Column("required_field", String(1), nullable=False, default=""),
    Column("custom_alignment", String(10), nullable=False, default=""),
    Column("question_number", String(50), nullable=False, default=""),
    Column("matrix_group_name", String(100), nullable=False, default=""),
    Column("matrix_ranking", String(1), nullable=False, default=""),
    Column("field_annotation", Text, nullable=False, default=""),
)

forms = Table(
    "forms",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("form_name", String(100), primary_key=True),
    Column("form_label", Text, nullable=False),
    Column("form_order", Integer, nullable=False),
    Column("survey_enabled", Boolean, nullable=False, default=False),
)

arms = Table(
    "arms",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("arm_num", Integer, primary_key=True),
    Column("name", Text, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("arm_num", Integer, nullable=False),
    Column("event_name", Text, nullable=False),
    Column("unique_event_name", String(100), nullable=False),
    Column("day_offset", String(20), nullable=False, default="0"),
    Column("offset_min", String(20), nullable=False, default="0"),
    Column("offset_max", String(20), nullable=False, default="0"),
    Column("custom_event_label", Text, nullable=False, default=""),
    Column("event_order", Integer, nullable=False),
    UniqueConstraint("project_id", "unique_event_name", name="uq_events_unique_name"),
    sqlite_autoincrement=True,
)

event_forms = Table(
    "event_forms",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("event_id", Integer, ForeignKey("events.event_id"), primary_key=True),
    Column("form_name", String(100), primary_key=True),
)

#: A repeating instrument (form_name set) or a whole repeating event (form_name "").
#: Classic projects use event_id 0.
repeating = Table(
    "repeating",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("event_id", Integer, primary_key=True),
    Column("form_name", String(100), primary_key=True),
    Column("custom_form_label", Text, nullable=False, default=""),
)

dags = Table(
    "dags",
    metadata,
    Column("group_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("group_name", Text, nullable=False),
    Column("unique_name", String(100), nullable=False),
    UniqueConstraint("project_id", "unique_name", name="uq_dags_unique_name"),
    sqlite_autoincrement=True,
)

users = Table(
    "users",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("email", Text, nullable=False, default=""),
    Column("firstname", Text, nullable=False, default=""),
    Column("lastname", Text, nullable=False, default=""),
    Column("super_user", Boolean, nullable=False, default=False),
)

project_users = Table(
    "project_users",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("username", String(255), ForeignKey("users.username"), primary_key=True),
    # The user's rights in this project as a JSON object (see localcap.model.rights).
    Column("rights", Text, nullable=False, default="{}"),
    Column("group_id", Integer, ForeignKey("dags.group_id"), nullable=True),
    Column("expiration", String(20), nullable=False, default=""),
    # The user's role, whose rights replace the user's own (REDCap's User Roles).
    Column("role_id", Integer, ForeignKey("user_roles.role_id"), nullable=True),
)

#: API tokens are stored as SHA-256 hashes: a stolen database gives no working token.
tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(255), ForeignKey("users.username"), nullable=False),
    # NULL for a super token.
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=True),
    Column("created_at", String(32), nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("record", SortableText, primary_key=True),
    # Natural-order key: every run of digits zero-padded (see localcap.model.records).
    Column("sort_key", SortableText, nullable=False),
    Column("group_id", Integer, ForeignKey("dags.group_id"), nullable=True),
    # When the record was last created or changed (Export Records' dateRangeBegin/End).
    Column("updated_at", String(32), nullable=False, default="", server_default=""),
    # Export pages seek here (keyset on sort_key, record: no sort); a DAG user's pages read
    # only the DAG's records; date-range exports find changed records (docs/scaling.md).
    Index("ix_records_order", "project_id", "sort_key", "record"),
    Index("ix_records_group_order", "project_id", "group_id", "sort_key", "record"),
    Index("ix_records_updated", "project_id", "updated_at"),
)

record_data = Table(
    "record_data",
    metadata,
    Column("project_id", Integer, primary_key=True),
    Column("record", SortableText, primary_key=True),
    Column("event_id", Integer, primary_key=True),
    Column("repeat_instrument", String(100), primary_key=True),
    Column("instance", Integer, primary_key=True),
    Column("data", Text, nullable=False),
    ForeignKeyConstraint(
        ["project_id", "record"], ["records.project_id", "records.record"], ondelete="CASCADE"
    ),
)

#: The column layouts packed record rows refer to (model/rows.py ``Layout``): one per distinct
#: tuple of stored columns a project's design has had when a row was written; never changed.
row_layouts = Table(
    "row_layouts",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("layout_id", String(16), primary_key=True),
    Column("columns", Text, nullable=False),
)

documents = Table(
    "documents",
    metadata,
    Column("doc_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("store_key", String(255), nullable=False),
    Column("name", Text, nullable=False),
    Column("mime_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    sqlite_autoincrement=True,
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("unique_report_name", String(64), nullable=False, default=""),
    # The whole definition as a JSON object (see localcap.reports.definition).
    Column("definition", Text, nullable=False),
    sqlite_autoincrement=True,
)

#: Append-only: every authenticated API call, with what it touched (never the token).
audit_log = Table(
    "audit_log",
    metadata,
    Column("log_id", Integer, primary_key=True, autoincrement=True),
    Column("ts", String(32), nullable=False),
    Column("username", String(255), nullable=False),
    Column("project_id", Integer, nullable=True),
    Column("content", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    # REDCap's log type: export, manage, user, record_add, record_edit, record_delete.
    Column("log_type", String(20), nullable=False),
    # Request parameters without the token; bulky ones (data) replaced by their size.
    Column("params", Text, nullable=False),
    Column("records", Text, nullable=False, default="[]"),
    Column("report_id", Integer, nullable=True),
    Column("row_count", Integer, nullable=True),
    Column("status", Integer, nullable=False),
    # What happened, in words, when the parameters do not say it (e.g. "Create project").
    Column("description", Text, nullable=False, default=""),
    # The client's address (invalid-token calls have no user to name).
    Column("client", String(64), nullable=False, default="", server_default=""),
    Index("ix_audit_log_project_ts", "project_id", "ts"),
    # Export Logging reads one project's entries in log order.
    Index("ix_audit_log_project_log", "project_id", "log_id"),
    sqlite_autoincrement=True,
)

#: What an audit entry changed, as REDCap's Logging shows it, one row per record or user
#: changed, in order: ``change`` is the JSON of :meth:`localcap.model.audit.Change.as_json`
#: (e.g. ``["Create record (API)", "7", "", [["age", "41"]], ""]``). A row each, not one
#: list per entry, so that an import of 100,000 records never needs its whole log as one
#: value in memory, neither when it is written nor when it is read.
audit_changes = Table(
    "audit_changes",
    metadata,
    # (no foreign key: SQLite's table rebuilds in migrations would cascade along it; the
    # audit log is only ever appended to)
    Column("log_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("change", Text, nullable=False),
    PrimaryKeyConstraint("log_id", "seq"),
)

#: A user role: a named set of rights that users are assigned to (REDCap's User Roles).
#: ``rights`` has the same JSON shape as ``project_users.rights``.
user_roles = Table(
    "user_roles",
    metadata,
    Column("role_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("unique_role_name", String(50), nullable=False),
    Column("role_label", Text, nullable=False),
    Column("rights", Text, nullable=False, default="{}"),
    UniqueConstraint("project_id", "unique_role_name", name="uq_user_roles_unique_name"),
    sqlite_autoincrement=True,
)

#: The DAGs a user may switch into with ``content=dag&action=switch`` (REDCap's DAG Switcher).
#: group_id 0 stands for "no assignment" (see all records).
dag_switch = Table(
    "dag_switch",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("username", String(255), ForeignKey("users.username"), primary_key=True),
    Column("group_id", Integer, primary_key=True),
)

#: File Repository folders; parent_id NULL is the top level. A folder may be limited to one
#: DAG and/or one role.
repository_folders = Table(
    "repository_folders",
    metadata,
    Column("folder_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("parent_id", Integer, ForeignKey("repository_folders.folder_id"), nullable=True),
    Column("name", String(150), nullable=False),
    Column("dag_id", Integer, ForeignKey("dags.group_id"), nullable=True),
    Column("role_id", Integer, ForeignKey("user_roles.role_id"), nullable=True),
    Column("created_at", String(32), nullable=False),
    sqlite_autoincrement=True,
)

#: A File Repository file: a stored document placed in a folder (NULL: the top level).
#: ``deleted_at`` is set when it is deleted (REDCap's recycle bin keeps it for 30 days).
repository_files = Table(
    "repository_files",
    metadata,
    Column("doc_id", Integer, ForeignKey("documents.doc_id"), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("folder_id", Integer, ForeignKey("repository_folders.folder_id"), nullable=True),
    Column("comment", Text, nullable=False, default=""),
    Column("deleted_at", String(32), nullable=False, default=""),
    Index("ix_repository_files_folder", "project_id", "folder_id"),
)

#: A survey-enabled instrument's settings (the attributes of a project XML's
#: ``<redcap:Surveys>``), as a JSON object.
surveys = Table(
    "surveys",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("form_name", String(100), primary_key=True),
    Column("settings", Text, nullable=False, default="{}"),
)

#: Survey queue entries (``<redcap:SurveysQueue>``); event_id 0 in classic projects.
survey_queue = Table(
    "survey_queue",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("event_id", Integer, primary_key=True),
    Column("form_name", String(100), primary_key=True),
    Column("settings", Text, nullable=False, default="{}"),
)

#: A survey participant: one per (survey, event, record, instance) once a link or code was
#: asked for, or one per public-survey/participant-list entry (record NULL until they answer).
survey_participants = Table(
    "survey_participants",
    metadata,
    Column("participant_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("projects.project_id"), nullable=False),
    Column("form_name", String(100), nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("record", SortableText, nullable=True),
    Column("instance", Integer, nullable=False, default=1),
    Column("email", Text, nullable=False, default=""),
    Column("identifier", Text, nullable=False, default=""),
    # The survey link's hash (``/surveys/?s=<hash>``), its access code and its return code.
    Column("hash", String(16), nullable=False, unique=True),
    Column("access_code", String(9), nullable=False, unique=True),
    Column("return_code", String(8), nullable=False, default=""),
    Column("first_submit_time", String(32), nullable=False, default=""),
    Column("completion_time", String(32), nullable=False, default=""),
    # Wrong return codes in a row, and until when (UTC ISO) the response refuses every code.
    Column("return_failures", Integer, nullable=False, default=0),
    Column("return_locked_until", String(32), nullable=False, default=""),
    # One participant per (survey, event, record, instance): the same link every time.
    Index(
        "ix_survey_participants_lookup",
        "project_id",
        "form_name",
        "event_id",
        "record",
        "instance",
        unique=True,
    ),
    sqlite_autoincrement=True,
)

#: A record's survey queue link hash (``/surveys/?sq=<hash>``).
survey_queue_links = Table(
    "survey_queue_links",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.project_id"), primary_key=True),
    Column("record", SortableText, primary_key=True),
    Column("hash", String(16), nullable=False, unique=True),
)


#: Secrets the server generates once and every worker shares (name -> value): the key that
#: signs survey form tokens.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", String(200), nullable=False),
)


#: Rate-limit windows every server process shares (db/ratelimits.py): one row per bucket
#: (``api:<user>``, ``code:<address>``...), the calls counted in the current minute and the
#: one before it.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("bucket", String(200), primary_key=True),
    #: The current window: minutes since the epoch.
    Column("minute", Integer, nullable=False),
    #: Calls allowed in that minute, and in the minute before it.
    Column("calls", Integer, nullable=False),
    Column("previous_calls", Integer, nullable=False),
    #: Whether the last call counted was allowed (what the counting statement returns).
    Column("allowed", Boolean, nullable=False),
    Index("ix_rate_limits_minute", "minute"),
)
