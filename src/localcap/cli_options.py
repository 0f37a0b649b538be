"""Options and helpers shared by the ``localcap`` commands (``cli.py`` and the feature packages'
command groups, such as ``surveys/cli.py``), kept apart so those can import them without a
circular import."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine

from localcap.db.engine import SchemaOutOfDate, open_database
from localcap.db.transactions import WriteLockTimeout

DATA_DIR_HELP = (
    "Directory holding the SQLite database and uploaded files (default ./localcap-data)."
)
DB_URL_HELP = (
    "Database URL, e.g. postgresql://user:pass@127.0.0.1/localcap. Default: SQLite in the data "
    "directory. Also read from LOCALCAP_DATABASE_URL."
)


def data_dir_option(f):  # noqa: ANN001, ANN201 - click decorator
    f = click.option(
        "--database-url", default=None, envvar="LOCALCAP_DATABASE_URL", help=DB_URL_HELP
    )(f)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("localcap-data"),
        envvar="LOCALCAP_DATA_DIR",
        show_default=True,
        help=DATA_DIR_HELP,
    )(f)


def open_engine(data_dir: Path, database_url: str | None, upgrade: bool = True) -> Engine:
    """The database, migrated to this localcap's schema (``upgrade`` false: only checked)."""
    try:
        return open_database(data_dir, database_url, upgrade=upgrade)
    except WriteLockTimeout:
        raise  # the database is there, only busy: the command group says to try again
    except SchemaOutOfDate as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a bad URL or an unreachable server: say what to do
        raise click.ClickException(
            f"Cannot open the database ({exc.__class__.__name__}: {exc}). Check --database-url "
            "or LOCALCAP_DATABASE_URL, and that the database server is running."
        ) from None
