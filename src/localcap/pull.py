"""``localcap project pull --from URL --token T``: a faithful local copy of a real REDCap
project, to test against.

The project comes over as REDCap's own Export Project XML (``content=project_xml``) with
its records (``returnMetadataOnly=false``), files (``exportFiles``), survey fields and DAGs:
what the token's rights allow, since the remote server applies them (a de-identified
token brings de-identified data; a DAG-restricted one, that DAG's records; one without
export rights, REDCap's refusal). The download is streamed to a
temporary file (with a progress bar), then imported as ``localcap project import`` does,
in one transaction.

The remote token is a secret of the remote server: it is sent only in the request's body,
never written anywhere (not in the audit log, whose entry names the remote host, nor in
the temporary file's name, nor in error messages), and the temporary file is deleted
whatever happens. A refused token or an unreachable server is a one-line error, with
nothing created locally.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

import click

from localcap.cli_options import data_dir_option, open_engine

CHUNK = 1 << 20
TIMEOUT = 300


class PullError(Exception):
    """The remote server could not be reached or refused; the message is safe to show."""


def shown_url(url: str) -> str:
    """``url`` without any user name or password in it (for messages and the audit log)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _post(url: str, params: dict[str, str]) -> Iterator[bytes]:
    request = Request(url, data=urlencode(params).encode(), method="POST")
    try:
        response = urlopen(request, timeout=TIMEOUT)  # noqa: S310 - the user's own server
    except HTTPError as error:
        text = error.read(4096).decode("utf-8", "replace").strip()
        with contextlib.suppress(ValueError, KeyError, TypeError):
            text = json.loads(text)["error"]
        raise PullError(f"{shown_url(url)} answered {error.code}: {text}") from None
    except (URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PullError(f"Cannot reach {shown_url(url)}: {reason}") from None
    with response:
        while chunk := response.read(CHUNK):
            yield chunk


def download_project_xml(
    url: str, token: str, into: IO[bytes], progress: Callable[[int], None]
) -> None:
    """Write the project XML the token may export into ``into`` (see the module docstring)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PullError(f"--from must be an http:// or https:// URL, not {shown_url(url)!r}")
    params = {
        "token": token,
        "content": "project_xml",
        "returnFormat": "json",
        "returnMetadataOnly": "false",
        "exportFiles": "true",
        "exportSurveyFields": "true",
        "exportDataAccessGroups": "true",
    }
    for chunk in _post(url, params):
        into.write(chunk)
        progress(len(chunk))
    into.flush()
    into.seek(0)


@click.command("pull")
@data_dir_option
@click.option(
    "--from",
    "source",
    required=True,
    help="The REDCap API URL, e.g. https://redcap.example.org/api/",
)
@click.option(
    "--token",
    envvar="REDCAP_API_TOKEN",
    prompt="API token",
    hide_input=True,
    help="Your API token there (default: $REDCAP_API_TOKEN, else asked for). Never stored.",
)
@click.option(
    "--username",
    default="site_admin",
    show_default=True,
    help="The local user who gets the copy (full rights and a new local token).",
)
@click.option("--title", default=None, help="The local title (default: the project's own).")
@click.option(
    "--file-store",
    default=None,
    envvar="LOCALCAP_FILE_STORE",
    help="Where uploaded files go, as given to `localcap serve` (default: <data-dir>/files).",
)
def project_pull(
    data_dir: Path,
    database_url: str | None,
    source: str,
    token: str,
    username: str,
    title: str | None,
    file_store: str | None,
) -> None:
    """Copy a project from a REDCap server (design, records, reports, files and DAGs, as
    far as your token's rights allow) into a new local project."""
    from tqdm import tqdm

    from localcap.db.audit import log_command
    from localcap.files import StoreConfigError, open_store
    from localcap.projectxml import ProjectXmlError
    from localcap.projectxml.importer import READ_CHUNK, import_project_xml

    with tempfile.TemporaryFile(prefix="localcap-pull-") as scratch:
        with tqdm(unit="B", unit_scale=True, desc="downloading", disable=None) as bar:
            try:
                download_project_xml(source, token.strip(), scratch, bar.update)
            except PullError as exc:
                raise click.ClickException(f"{exc}. Nothing was copied.") from None
        engine = open_engine(data_dir, database_url)
        try:
            store = open_store(file_store, data_dir)
        except StoreConfigError as exc:
            raise click.ClickException(str(exc)) from None

        def chunks() -> Iterator[bytes]:
            while chunk := scratch.read(READ_CHUNK):
                yield chunk

        try:
            with engine.begin() as conn:
                result = import_project_xml(conn, store, chunks(), username=username, title=title)
                log_command(
                    conn,
                    result.project_id,
                    "project pull",
                    f"Create project from {shown_url(source)}'s project XML: "
                    f"{result.records} records, {result.files} files; user {username}, "
                    "with a new API token",
                )
        except ProjectXmlError as exc:
            raise click.ClickException(
                f"{shown_url(source)}'s project XML cannot be imported: {exc}. Nothing was copied."
            ) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    click.echo(
        f"Project {result.project_id} created ({result.records} records, {result.files} files); "
        f"{username}'s API token {result.token}"
    )
