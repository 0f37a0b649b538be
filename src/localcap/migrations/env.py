"""Alembic environment: runs on the connection localcap hands over (see db.engine.migrate)."""

from alembic import context
from sqlalchemy import create_engine

from localcap.db.schema import metadata

connection = context.config.attributes.get("connection")


def _run(conn) -> None:  # noqa: ANN001
    context.configure(
        connection=conn, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic revision --autogenerate` from the command line, for developers.
    url = context.config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as conn:
        _run(conn)
