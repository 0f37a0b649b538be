"""ids never reused on SQLite (AUTOINCREMENT); a server secret for signed survey form tokens

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:40:00

SQLite gives a new row the largest rowid + 1, so deleting the newest event (or DAG, report,
participant...) handed its id to the next one: an old survey link, bookmark or API client
then reached the new row. ``AUTOINCREMENT`` makes SQLite remember the highest id ever used
(``sqlite_sequence``). It can only be declared when a table is created, so each table whose
ids leave the server is rebuilt (Alembic's batch mode: copy, drop, rename) with foreign keys
off, as SQLite's documentation requires for such a rebuild; ``PRAGMA foreign_key_check``
then proves nothing was broken. PostgreSQL's sequences never hand a number out twice: nothing
to do there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Tables whose integer ids are exposed (API, links, file names) -> their id column.
EXPOSED_IDS = {
    "projects": "project_id",
    "events": "event_id",
    "dags": "group_id",
    "documents": "doc_id",
    "reports": "report_id",
    "audit_log": "log_id",
    "user_roles": "role_id",
    "repository_folders": "folder_id",
    "survey_participants": "participant_id",
}


def _rebuild_sqlite_tables() -> None:
    bind = op.get_bind()
    dbapi = bind.connection.dbapi_connection
    # PRAGMA foreign_keys is ignored inside a transaction: end the one the earlier revisions
    # opened (their work is complete and consistent on its own).
    if dbapi.in_transaction:
        dbapi.commit()
    dbapi.execute("PRAGMA foreign_keys=OFF")
    try:
        for table in EXPOSED_IDS:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass
        problems = dbapi.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the table rebuild: {problems[:5]}")
        dbapi.commit()
    finally:
        dbapi.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_tables()


def downgrade() -> None:
    op.drop_table("server_secrets")
