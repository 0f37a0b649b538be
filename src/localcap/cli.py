"""The ``localcap`` command: serve the API, mint tokens, and manage projects from a shell."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy import Connection, select

from localcap.admin.cli import reset, snapshot
from localcap.cli_options import data_dir_option, open_engine
from localcap.db import schema as t
from localcap.db.transactions import WriteLockTimeout, read_snapshot, write_transaction
from localcap.limits import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUEST_MB,
    GRACEFUL_SHUTDOWN_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    RESERVED_FILES,
)
from localcap.pull import project_pull
from localcap.surveys.cli import survey

if TYPE_CHECKING:
    from localcap.model.project import Project


class _Commands(click.Group):
    """localcap's commands: a write that waited too long for its project's lock (the server
    or another command writing; ``LOCALCAP_WRITE_LOCK_TIMEOUT``) is a one-line error that
    says what to do, not a traceback. Nothing was written."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WriteLockTimeout:
            raise click.ClickException(
                "The project is busy with another write (the server or another command); "
                "nothing was changed. Try again."
            ) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="localcap")
def main() -> None:
    """localcap: a fast, self-hostable server that speaks the REDCap API.

    Start with `localcap serve --demo`, then call http://127.0.0.1:8080/api/ with one of the
    printed tokens, exactly as you would call REDCap.
    """


def _run_workers(host: str, port: int, workers: int, graceful_timeout: int) -> None:
    """Run uvicorn with localcap's protocol limits until it is stopped."""
    import uvicorn

    uvicorn.run(
        "localcap.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,  # localcap's own, structured (localcap.accesslog)
        # Header/body timeouts and header limits (uvicorn has none): localcap.limits
        http="localcap.api.protocol:LimitedHttpToolsProtocol",
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        # SIGTERM: requests still running after this long are cancelled, not waited for
        timeout_graceful_shutdown=graceful_timeout,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default: the app decides
        # whom to believe (--forwarded-allow-ips), see server.build_app
        proxy_headers=False,
    )


def _settings_for_workers(settings: dict[str, str]) -> None:
    """Hand the settings to the app factory (``server.app_from_environment``) through the
    environment, which every uvicorn worker process inherits. An empty database URL or file
    store is left unset: the worker then uses its default (SQLite, local files)."""
    for name, value in settings.items():
        if value or name not in ("LOCALCAP_DATABASE_URL", "LOCALCAP_FILE_STORE"):
            os.environ[name] = value


@main.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--file-store",
    default=None,
    envvar="LOCALCAP_FILE_STORE",
    help="Where uploaded files go: a directory (default: <data-dir>/files) or "
    "s3://bucket/prefix (endpoint and credentials from the usual AWS_* variables).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Create (once) a demo project with records, DAGs and users, and print their tokens.",
)
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--rate-limit",
    default=600,
    show_default=True,
    type=int,
    envvar="LOCALCAP_RATE_LIMIT",
    help="API requests per minute per user (0: no limit); more get a 429 error.",
)
@click.option(
    "--max-request-mb",
    default=DEFAULT_MAX_REQUEST_MB,
    show_default=True,
    type=int,
    envvar="LOCALCAP_MAX_REQUEST_MB",
    help="Largest request body accepted, in MB (0: no limit); bigger ones get a 413 error.",
)
@click.option(
    "--max-connections",
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    type=int,
    envvar="LOCALCAP_MAX_CONNECTIONS",
    help="Open connections per worker process (capped below the open-files limit); more are "
    "closed at once.",
)
@click.option(
    "--invalid-token-limit",
    default=60,
    show_default=True,
    type=int,
    envvar="LOCALCAP_INVALID_TOKEN_LIMIT",
    help="API calls with an invalid token one client address (an IPv6 /64) may make per "
    "minute (0: no limit); more get a 429 error. Each one is in the audit log.",
)
@click.option(
    "--public-url",
    default=None,
    envvar="LOCALCAP_PUBLIC_URL",
    help="The address participants open survey links at, e.g. https://surveys.example.org "
    "(behind a proxy). Survey links and survey queue links are <public-url>/surveys/?s=... "
    "and <public-url>/surveys/?sq=...  Default: this server's own address, http://HOST:PORT.",
)
@click.option(
    "--forwarded-allow-ips",
    default="",
    envvar="LOCALCAP_FORWARDED_ALLOW_IPS",
    help="The reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
    "and X-Forwarded-Proto headers are believed: the client address survey access-code limits "
    "count, and https for secure cookies. Default: none (every request's own peer address).",
)
@click.option(
    "--sqlite-synchronous",
    type=click.Choice(["full", "normal"]),
    default="full",
    show_default=True,
    envvar="LOCALCAP_SQLITE_SYNCHRONOUS",
    help="SQLite durability. full: every acknowledged write is on disk before the answer "
    "(survives power loss). normal: faster small writes, but the last ones can be lost on "
    "power loss or an OS crash. Ignored with PostgreSQL.",
)
@click.option(
    "--admin-api",
    is_flag=True,
    envvar="LOCALCAP_ADMIN_API",
    help="Serve POST /admin/ (project tokens, snapshots, reset) to super tokens: for test "
    "suites, never on a server holding real data (see docs/TESTING.md).",
)
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    envvar="LOCALCAP_MIGRATE",
    help="Bring the database schema up to date before serving (once, in this process; the "
    "workers never do). With several servers on one database, run `localcap db upgrade` once "
    "and start each with --no-migrate: it then refuses an out-of-date schema.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    envvar="LOCALCAP_ACCESS_LOG",
    help="One JSON line per request on standard output (no query strings, no tokens).",
)
@click.option(
    "--graceful-timeout",
    default=GRACEFUL_SHUTDOWN_TIMEOUT,
    show_default=True,
    type=click.IntRange(min=0),
    envvar="LOCALCAP_GRACEFUL_TIMEOUT",
    help="On SIGTERM or SIGINT: seconds requests in progress (a streaming export too) may "
    "take to finish; then they are cut (an unfinished export ends without its last chunk).",
)
def serve(
    data_dir: Path,
    database_url: str | None,
    host: str,
    port: int,
    file_store: str | None,
    demo: bool,
    workers: int,
    rate_limit: int,
    max_request_mb: int,
    max_connections: int,
    invalid_token_limit: int,
    public_url: str | None,
    forwarded_allow_ips: str,
    sqlite_synchronous: str,
    admin_api: bool,
    migrate: bool,
    access_log: bool,
    graceful_timeout: int,
) -> None:
    """Serve the REDCap API at http://HOST:PORT/api/ and surveys at http://HOST:PORT/surveys/."""
    os.environ["LOCALCAP_SQLITE_SYNCHRONOUS"] = sqlite_synchronous  # the workers' engines too
    engine = open_engine(data_dir, database_url, upgrade=migrate)
    url = f"http://{host}:{port}/api/"
    if demo:
        from localcap.demo import ensure_demo

        for line in ensure_demo(engine, url):
            click.echo(line)
    engine.dispose()
    _settings_for_workers(
        {
            "LOCALCAP_DATA_DIR": str(data_dir.resolve()),
            "LOCALCAP_DATABASE_URL": database_url or "",
            "LOCALCAP_FILE_STORE": file_store or "",
            "LOCALCAP_RATE_LIMIT": str(rate_limit),
            "LOCALCAP_MAX_REQUEST_MB": str(max_request_mb),
            "LOCALCAP_INVALID_TOKEN_LIMIT": str(invalid_token_limit),
            "LOCALCAP_PUBLIC_URL": (public_url or f"http://{host}:{port}").rstrip("/"),
            "LOCALCAP_FORWARDED_ALLOW_IPS": forwarded_allow_ips,
            "LOCALCAP_ADMIN_API": "1" if admin_api else "",
            "LOCALCAP_ACCESS_LOG": "1" if access_log else "0",
        }
    )
    click.echo(f"localcap is serving the REDCap API at {url}")
    files = raise_open_files_limit()
    os.environ["LOCALCAP_MAX_CONNECTIONS"] = str(min(max_connections, files - RESERVED_FILES))
    _run_workers(host, port, workers, graceful_timeout)


@main.group()
def db() -> None:
    """The database's schema (Alembic migrations)."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path, database_url: str | None) -> None:
    """Bring the database schema up to this localcap's version (creating it if empty).

    Run it once per upgrade (a deploy step), before starting the servers with --no-migrate;
    a server's worker processes never migrate.
    """
    from localcap.db.engine import head_revision

    engine = open_engine(data_dir, database_url)
    engine.dispose()
    click.echo(f"The database schema is at revision {head_revision()}")


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one, and return it: each connection is a
    file descriptor, and the usual soft limit (1,024) is what slow clients exhaust first."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@main.group()
def token() -> None:
    """Mint and revoke API tokens (works while the server runs)."""


@token.command("super")
@data_dir_option
@click.option(
    "--username",
    default="site_admin",
    show_default=True,
    help="The super user's name (REDCap's default administrator account is site_admin).",
)
def token_super(data_dir: Path, database_url: str | None, username: str) -> None:
    """Print a new 64-character super API token (creating the super user if needed).

    A super token can create projects (content=project). Keep it secret.
    """
    from localcap.db.projects import ensure_user
    from localcap.db.tokens import create_super_token

    engine = open_engine(data_dir, database_url)
    with engine.begin() as conn:
        ensure_user(conn, username, super_user=True)
        token = create_super_token(conn, username)
        _log(conn, None, "token super", f"Create super API token for user {username}")
    click.echo(token)


@token.command("create")
@data_dir_option
@click.option("--project", "project_id", required=True, type=int, help="The project's id.")
@click.option("--username", required=True, help="An existing user of that project.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["token", "env", "csv"]),
    default="token",
    show_default=True,
    help="token: the token alone. env: REDCAP_API_TOKEN=... lines (with --url, also "
    "REDCAP_API_URL=...) for R's readRenviron(), $GITHUB_ENV or a shell. csv: a REDCapR "
    "credential file (needs --url).",
)
@click.option("--url", default=None, help="The API URL the token is for (env and csv formats).")
@click.option(
    "--env-name",
    default="REDCAP_API_TOKEN",
    show_default=True,
    help="The variable name of the token in the env format.",
)
def token_create(
    data_dir: Path,
    database_url: str | None,
    project_id: int,
    username: str,
    fmt: str,
    url: str | None,
    env_name: str,
) -> None:
    """Print a new 32-character project API token for an existing project user.

    Any earlier token of that user for that project stops working.
    """
    from localcap.admin.credentials import format_token

    if fmt == "csv" and not url:
        raise click.UsageError("--format csv needs --url (the credential file's redcap_uri).")
    from localcap.db.tokens import create_project_token

    engine = open_engine(data_dir, database_url)
    with write_transaction(engine, project_id) as conn:
        _require_member(conn, project_id, username)
        token = create_project_token(conn, project_id, username)
        _log(conn, project_id, "token create", f"Create API token for user {username}")
    click.echo(
        format_token(
            token, fmt, url=url, username=username, project_id=project_id, env_name=env_name
        )
    )


def _log(conn: Connection, project_id: int | None, command: str, description: str) -> None:
    """The audit log's record of a command (user names are printed safely)."""
    from localcap.db.audit import log_command
    from localcap.model.audit import bounded, printable

    log_command(conn, project_id, command, printable(bounded(description, 1000)))


def _load_project(conn: Connection, project_id: int) -> Project:
    from localcap.db.projects import load_project

    project = load_project(conn, project_id)
    if project is None:
        raise click.ClickException(
            f"There is no project {project_id}: see `localcap project list`."
        )
    return project


def _require_member(conn: Connection, project_id: int, username: str) -> None:
    member = conn.execute(
        select(t.project_users.c.username).where(
            t.project_users.c.project_id == project_id,
            t.project_users.c.username == username,
        )
    ).first()
    if member is None:
        raise click.ClickException(
            f"'{username}' is not a user of project {project_id}. Add the user first "
            "(content=user&action=import) or check the project id with `localcap project list`."
        )


@token.command("revoke")
@data_dir_option
@click.option("--token", "token_value", default=None, help="The token to revoke.")
@click.option("--username", default=None, help="Revoke this user's tokens instead.")
@click.option(
    "--project",
    "project_id",
    type=int,
    default=None,
    help="With --username: only the token for this project.",
)
def token_revoke(
    data_dir: Path,
    database_url: str | None,
    token_value: str | None,
    username: str | None,
    project_id: int | None,
) -> None:
    """Revoke a token at once (the server stops accepting it on the next request).

    Give the token itself (--token), or a user (--username, optionally --project).
    """
    from localcap.db.tokens import lookup_token, revoke_token, revoke_user_tokens

    if bool(token_value) == bool(username):
        raise click.UsageError("Give either --token or --username.")
    engine = open_engine(data_dir, database_url)
    with engine.begin() as conn:
        if token_value:
            owner = lookup_token(conn, token_value)
            if owner is None or not revoke_token(conn, token_value):
                raise click.ClickException("No such token (it may already be revoked).")
            kind = "super API token" if owner.is_super else "API token"
            _log(conn, owner.project_id, "token revoke", f"Revoke {kind} of user {owner.username}")
            click.echo("Revoked 1 token.")
        else:
            assert username is not None
            count = revoke_user_tokens(conn, username, project_id)
            where = f" for project {project_id}" if project_id is not None else ""
            _log(
                conn,
                project_id,
                "token revoke",
                f"Revoke {count} API token{'s' * (count != 1)} of user {username}{where}",
            )
            click.echo(f"Revoked {count} token{'s' if count != 1 else ''}.")


@main.command()
@data_dir_option
@click.option("--project", "project_id", type=int, default=None, help="Only this project.")
@click.option("--user", "username", default=None, help="Only this user's calls.")
@click.option(
    "--since", default=None, help="Only entries at or after this time (YYYY-MM-DD[ HH:MM])."
)
@click.option(
    "--limit", default=100, show_default=True, type=int, help="At most this many entries."
)
def audit(
    data_dir: Path,
    database_url: str | None,
    project_id: int | None,
    username: str | None,
    since: str | None,
    limit: int,
) -> None:
    """Print the audit log, newest first: every API call, survey action and command.

    Columns: time, user, project, content/action, status, client, rows (exports), records
    touched, what changed. Every value is printed with control characters escaped (a record
    named with a line break cannot print a line of its own).
    """
    from itertools import islice

    from localcap.db.audit import read_entries
    from localcap.db.projects import load_project
    from localcap.model.audit import field_order, printable

    engine = open_engine(data_dir, database_url)
    with read_snapshot(engine) as conn:
        orders: dict[int | None, dict[str, int] | None] = {}

        def order_of(pid: int | None) -> dict[str, int] | None:
            if pid not in orders:
                project = load_project(conn, pid) if pid is not None else None
                orders[pid] = field_order(project) if project is not None else None
            return orders[pid]

        entries = read_entries(conn, project_id, username, since, field_order=order_of)
        for entry in islice(entries, limit):
            records = ",".join(entry.records[:10]) + ("..." if len(entry.records) > 10 else "")
            rows = "" if entry.row_count is None else f"rows={entry.row_count}"
            what = (
                "; ".join(
                    f"{c.action} {c.record}: {c.details}".replace(" :", ":")
                    for c in entry.changes[:20]
                )
                or entry.description
            )
            columns = [
                entry.ts,
                entry.username,
                f"project={entry.project_id}",
                f"{entry.content}/{entry.action}",
                str(entry.status),
                entry.client,
                rows,
                records,
                what,
            ]
            click.echo("\t".join(printable(str(c)) for c in columns))


@main.group()
def dag() -> None:
    """Data Access Group settings that REDCap keeps in its web UI (the DAG Switcher)."""


@dag.command("allow-switch")
@data_dir_option
@click.option("--project", "project_id", required=True, type=int, help="The project's id.")
@click.option("--user", "username", required=True, help="An existing user of that project.")
@click.option(
    "--dag",
    "dags",
    multiple=True,
    help="A DAG's unique group name (as in content=dag) the user may switch into. Repeat it "
    "for several DAGs.",
)
@click.option(
    "--no-assignment",
    is_flag=True,
    help='Also let the user switch to "[No Assignment]": out of every DAG, seeing all records.',
)
def dag_allow_switch(
    data_dir: Path,
    database_url: str | None,
    project_id: int,
    username: str,
    dags: tuple[str, ...],
    no_assignment: bool,
) -> None:
    """Set the DAGs a user may switch between (REDCap's DAG Switcher).

    The list replaces the user's earlier one; give no --dag and no --no-assignment to take
    the right away. The user then switches with the API (content=dag, action=switch,
    dag=<unique group name>, or a blank dag for [No Assignment]); the user's current DAG
    stays as it is until they switch.
    """
    from localcap.db.roles import NO_ASSIGNMENT, set_switch_dags

    engine = open_engine(data_dir, database_url)
    with write_transaction(engine, project_id) as conn:
        project = _load_project(conn, project_id)
        _require_member(conn, project_id, username)
        unknown = [d for d in dags if d not in project.dag_by_name]
        if unknown:
            known = ", ".join(project.dag_by_name) or "none"
            raise click.ClickException(
                f"Unknown DAG(s): {', '.join(unknown)}. The project's DAGs: {known}."
            )
        group_ids = [project.dag_by_name[d].group_id for d in dags]
        if no_assignment:
            group_ids.append(NO_ASSIGNMENT)
        set_switch_dags(conn, project_id, username, group_ids)
        shown = list(dags) + (["[No Assignment]"] if no_assignment else [])
        _log(
            conn,
            project_id,
            "dag allow-switch",
            f"DAG Switcher: user {username} may switch between: {', '.join(shown) or 'none'}",
        )
    if shown:
        click.echo(f"{username} may switch between: {', '.join(shown)}")
    else:
        click.echo(f"{username} may no longer switch DAGs")


@main.group()
def project() -> None:
    """List projects, and import REDCap project XMLs."""


@project.command("list")
@data_dir_option
def project_list(data_dir: Path, database_url: str | None) -> None:
    """List the projects: id, title, and whether they are longitudinal."""
    engine = open_engine(data_dir, database_url)
    with read_snapshot(engine) as conn:
        for row in conn.execute(select(t.projects).order_by(t.projects.c.project_id)):
            kind = "longitudinal" if row.is_longitudinal else "classic"
            click.echo(f"{row.project_id}\t{kind}\t{row.project_title}")


@main.group()
def report() -> None:
    """Define reports without REDCap's web UI (see docs/REPORTS.md for the JSON shape)."""


@report.command("import")
@data_dir_option
@click.option("--project", "project_id", required=True, type=int, help="The project's id.")
@click.argument("file", type=click.File("rb"))
def report_import(data_dir: Path, database_url: str | None, project_id: int, file) -> None:  # noqa: ANN001
    """Import report definitions from FILE (a JSON list, or one object; - for stdin).

    Every definition is checked against the project first (fields, events, DAGs, filter
    logic, at most 3 sort fields); if any is wrong nothing is stored.
    """
    import orjson

    from localcap.db.reports import save_reports
    from localcap.reports.definition import ReportDefinition, ReportDefinitionError

    try:
        data = orjson.loads(file.read())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{file.name} is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    engine = open_engine(data_dir, database_url)
    with write_transaction(engine, project_id) as conn:
        project = _load_project(conn, project_id)
        try:
            reports = [ReportDefinition.from_json(item) for item in items]
            for definition in reports:
                definition.validate(project)
            ids = save_reports(conn, project_id, reports)
            _log(
                conn,
                project_id,
                "report import",
                "Import report definitions: "
                + ", ".join(f"{i} ({d.title})" for i, d in zip(ids, reports, strict=True)),
            )
        except ReportDefinitionError as exc:
            raise click.ClickException(f"{exc}. Nothing was imported.") from None
    for report_id, definition in zip(ids, reports, strict=True):
        click.echo(f"{report_id}\t{definition.title}")


@report.command("list")
@data_dir_option
@click.option("--project", "project_id", type=int, default=None, help="Only this project.")
def report_list(data_dir: Path, database_url: str | None, project_id: int | None) -> None:
    """List report definitions: report id, project id, title."""
    engine = open_engine(data_dir, database_url)
    with read_snapshot(engine) as conn:
        query = select(t.reports.c.report_id, t.reports.c.project_id, t.reports.c.title)
        if project_id is not None:
            query = query.where(t.reports.c.project_id == project_id)
        for row in conn.execute(query.order_by(t.reports.c.report_id)):
            click.echo(f"{row.report_id}\t{row.project_id}\t{row.title}")


@main.group()
def files() -> None:
    """Check the stored files behind file-upload fields and the File Repository."""


@files.command("verify")
@data_dir_option
@click.option(
    "--file-store",
    default=None,
    envvar="LOCALCAP_FILE_STORE",
    help="The store to check, as given to `localcap serve` (default: <data-dir>/files).",
)
def files_verify(data_dir: Path, database_url: str | None, file_store: str | None) -> None:
    """Re-hash every stored file against the SHA-256 recorded at upload.

    Lists files that are missing from the store or whose content changed, and exits with
    status 1 if there is any: run it after a backup restore or a move to another store.
    """
    from tqdm import tqdm

    from localcap.db.documents import count_documents, iter_expected_files
    from localcap.files import StoreConfigError, open_store, verify_files

    engine = open_engine(data_dir, database_url)
    try:
        store = open_store(file_store, data_dir)
    except StoreConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # Read the list up front: a verify of a large store takes hours, and holding a database
    # read transaction open that long would block SQLite checkpoints and PostgreSQL vacuum.
    with read_snapshot(engine) as conn:
        total = count_documents(conn)
        expected = list(iter_expected_files(conn))
    with tqdm(total=total, unit="file", desc="verifying", disable=None) as bar:
        report = verify_files(store, expected, progress=lambda key, status: bar.update(1))
    for key in report.missing:
        click.echo(f"missing\t{key}")
    for bad in report.corrupt:
        click.echo(
            f"corrupt\t{bad.key}\texpected {bad.expected_size} bytes sha256 "
            f"{bad.expected_sha256}, found {bad.actual_size} bytes sha256 {bad.actual_sha256}"
        )
    summary = (
        f"{report.checked} checked: {report.ok} ok, {len(report.missing)} missing, "
        f"{len(report.corrupt)} corrupt"
    )
    if not report.all_ok:
        click.echo(summary, err=True)
        raise SystemExit(1)
    click.echo(summary)


@project.command("import")
@data_dir_option
@click.option(
    "--username",
    default="site_admin",
    show_default=True,
    help="Who creates the project: gets full rights and the printed token (created if new).",
)
@click.option("--title", default=None, help="Project title (default: the XML's StudyName).")
@click.option(
    "--file-store",
    default=None,
    envvar="LOCALCAP_FILE_STORE",
    help="Where uploaded files go, as given to `localcap serve` (default: <data-dir>/files).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def project_import(
    data_dir: Path,
    database_url: str | None,
    username: str,
    title: str | None,
    file_store: str | None,
    file: Path,
) -> None:
    """Create a project from a REDCap project XML (design, reports, records and files).

    The file is streamed (memory stays flat whatever its size) and imported in one
    transaction: on any problem nothing is created. What localcap cannot bring over is listed
    as warnings.
    """
    from tqdm import tqdm

    from localcap.files import StoreConfigError, open_store
    from localcap.projectxml import ProjectXmlError
    from localcap.projectxml.importer import READ_CHUNK, import_project_xml
    from localcap.runtime import tune_garbage_collector

    tune_garbage_collector()
    engine = open_engine(data_dir, database_url)
    try:
        store = open_store(file_store, data_dir)
    except StoreConfigError as exc:
        raise click.ClickException(str(exc)) from None

    def chunks():  # noqa: ANN202 - a local generator
        with file.open("rb") as handle:
            while chunk := handle.read(READ_CHUNK):
                yield chunk

    with tqdm(
        total=file.stat().st_size, unit="B", unit_scale=True, desc="importing", disable=None
    ) as bar:
        try:
            with engine.begin() as conn:
                result = import_project_xml(
                    conn, store, chunks(), username=username, title=title, progress=bar.update
                )
                _log(
                    conn,
                    result.project_id,
                    "project import",
                    f"Create project from a REDCap project XML ({file.name}): "
                    f"{result.records} records, {result.files} files; user {username}, "
                    "with a new API token",
                )
        except ProjectXmlError as exc:
            raise click.ClickException(f"{file} cannot be imported: {exc}") from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    click.echo(
        f"Project {result.project_id} created ({result.records} records, {result.files} files); "
        f"{username}'s API token {result.token}"
    )


main.add_command(survey)
main.add_command(snapshot)
main.add_command(reset)
project.add_command(project_pull)


if __name__ == "__main__":  # pragma: no cover
    main()
