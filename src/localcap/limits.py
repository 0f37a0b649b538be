"""Default limits of a ``localcap serve`` process: in one light module, so the command line
(its option defaults) and the server share them without the CLI importing the server.

Why each value is what it is: docs/DEPLOYMENT.md.
"""

from __future__ import annotations

#: Largest request body by default. REDCap servers commonly run with PHP's post_max_size at
#: 32 MB or so; localcap spools bodies to disk and checks the token before parsing, so it can
#: afford more, but an import's ``data`` is parsed in memory (about 4x its size at the peak).
#: Big file uploads need ``--max-request-mb`` raised.
DEFAULT_MAX_REQUEST_MB = 256
