"""How ``localcap token create`` prints a token for scripts in other languages.

- ``token``: the token alone (a shell's ``$(...)``).
- ``env``: ``REDCAP_API_TOKEN=...`` (and ``REDCAP_API_URL=...`` with a URL), one ``NAME=value``
  a line: what R's ``readRenviron()`` reads, what a GitHub Actions step appends to
  ``$GITHUB_ENV``, and what ``set -a; . file`` exports in a shell. REDCapR's and redcapAPI's
  examples read the URL and token from environment variables of these kinds.
- ``csv``: REDCapR's credential file, the CSV ``REDCapR::retrieve_credential_local()`` reads:
  columns ``redcap_uri``, ``username``, ``project_id``, ``token``, ``comment`` (REDCapR's
  reference for ``retrieve_credential``).
"""

from __future__ import annotations

import csv
import io

FORMATS = ("token", "env", "csv")
CREDENTIAL_COLUMNS = ["redcap_uri", "username", "project_id", "token", "comment"]


def format_token(
    token: str, fmt: str, *, url: str | None, username: str, project_id: int, env_name: str
) -> str:
    """The text to print (no trailing newline) for one of :data:`FORMATS`."""
    if fmt == "env":
        lines = [f"REDCAP_API_URL={url}"] if url else []
        return "\n".join([*lines, f"{env_name}={token}"])
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CREDENTIAL_COLUMNS)
        writer.writerow([url, username, project_id, token, "localcap"])
        return out.getvalue().rstrip("\n")
    return token
