"""localcap as a test double for code that talks to REDCap.

- :mod:`localcap.testing.plugin`: the pytest plugin (fixtures ``localcap_server`` and
  ``localcap_project``, markers ``localcap_project``, ``localcap_records``, ``localcap_file``),
  registered through the ``pytest11`` entry point, so installing localcap is enough.
- :class:`ProjectSpec` / :class:`User`: a project described in Python, or read from a REDCap
  project XML or a data dictionary CSV.
- :func:`start_server` / :func:`connect`: a ``localcap serve`` process on a free loopback port,
  or a server that is already running (``localcap serve --admin-api``).

Only the standard library is used to talk to the server, so the plugin adds no dependency.
See the README ("Use it in your tests") and docs/TESTING.md.
"""

from localcap.testing.project import LocalcapProject, ProjectSpec, User
from localcap.testing.server import LocalcapError, LocalcapServer, connect, start_server

__all__ = [
    "LocalcapError",
    "LocalcapProject",
    "LocalcapServer",
    "ProjectSpec",
    "User",
    "connect",
    "start_server",
]
