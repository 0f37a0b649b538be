"""``localcap snapshot save|restore|list|delete`` and ``localcap reset``: the same as the
admin endpoint's actions (:mod:`localcap.admin.snapshots`), from a shell, while the server
runs or not."""

from __future__ import annotations

from pathlib import Path

import click

from localcap.cli_options import data_dir_option, open_engine
from localcap.db.audit import command_user
from localcap.model.errors import DomainError

FILE_STORE_HELP = "The file store, as given to `localcap serve` (default: <data-dir>/files)."


def _store(file_store: str | None, data_dir: Path):  # noqa: ANN202 - a FileStore
    from localcap.files import StoreConfigError, open_store

    try:
        return open_store(file_store, data_dir)
    except StoreConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _file_store_option(f):  # noqa: ANN001, ANN201 - click decorator
    return click.option(
        "--file-store", default=None, envvar="LOCALCAP_FILE_STORE", help=FILE_STORE_HELP
    )(f)


@click.group()
def snapshot() -> None:
    """Save the whole server (database and files) and restore it, also while it runs."""


@snapshot.command("save")
@data_dir_option
@_file_store_option
@click.argument("name")
def snapshot_save(
    data_dir: Path, database_url: str | None, file_store: str | None, name: str
) -> None:
    """Save the whole server as NAME (an older snapshot NAME is replaced)."""
    from localcap.admin.snapshots import save_snapshot

    engine = open_engine(data_dir, database_url)
    try:
        saved = save_snapshot(engine, data_dir, _store(file_store, data_dir), name, command_user())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Saved snapshot {saved.name} ({saved.files} files)")


@snapshot.command("restore")
@data_dir_option
@_file_store_option
@click.argument("name")
def snapshot_restore(
    data_dir: Path, database_url: str | None, file_store: str | None, name: str
) -> None:
    """Bring the whole server back to snapshot NAME (every project, user, token and file)."""
    from localcap.admin.snapshots import restore_snapshot

    engine = open_engine(data_dir, database_url)
    try:
        restore_snapshot(engine, data_dir, _store(file_store, data_dir), name, command_user())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Restored snapshot {name}")


@snapshot.command("list")
@data_dir_option
def snapshot_list(data_dir: Path, database_url: str | None) -> None:
    """List the snapshots: name, when saved, database, files."""
    from localcap.admin.snapshots import list_snapshots

    for s in list_snapshots(data_dir):
        click.echo(f"{s.name}\t{s.created}\t{s.backend}\t{s.files} files")


@snapshot.command("delete")
@data_dir_option
@click.argument("name")
def snapshot_delete(data_dir: Path, database_url: str | None, name: str) -> None:
    """Delete snapshot NAME."""
    from localcap.admin.snapshots import delete_snapshot

    try:
        delete_snapshot(data_dir, open_engine(data_dir, database_url), name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Deleted snapshot {name}")


@click.command()
@data_dir_option
@_file_store_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(data_dir: Path, database_url: str | None, file_store: str | None, yes: bool) -> None:
    """Delete every project, project user, token and stored file (super users and their
    super tokens stay): a fresh server, also while it runs."""
    from localcap.admin.snapshots import reset_server

    if not yes:
        click.confirm("Delete every project, user and file of this server?", abort=True)
    engine = open_engine(data_dir, database_url)
    removed = reset_server(engine, _store(file_store, data_dir), command_user())
    click.echo(f"Reset: every project deleted, {removed} stored files deleted")
