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

#: A request's line and headers must arrive within this many seconds of its first byte (of
#: the connection, for a new one). Slowloris clients send a header byte every few seconds to
#: hold a connection (and a file descriptor) for ever; no real client needs more than a few.
HEADER_TIMEOUT = 10.0
#: While a request body is being received, the longest silence (seconds) allowed between two
#: reads. Only counted while the server wants more bytes (not while the application is busy).
BODY_IDLE_TIMEOUT = 30.0
#: An idle keep-alive connection is closed after this many seconds (uvicorn's default is 5).
KEEP_ALIVE_TIMEOUT = 5
#: At most this many request headers, and this many bytes of request line plus headers: a
#: request over either gets a 431. nginx allows 4 x 8 KB by default and Apache 100 headers.
MAX_HEADERS = 100
MAX_HEADER_BYTES = 64 << 10
#: Open connections per server process; a connection beyond it is closed at once, before a
#: byte is read, so the process never runs out of file descriptors (at 1,024 open files, 1,100
#: slow connections once made every request fail). With :data:`HEADER_TIMEOUT`, a client must
#: open this many connections every 10 seconds to keep others out: a reverse proxy's per-client
#: limits stop that (docs/DEPLOYMENT.md). Capped below the open-files limit at start-up.
DEFAULT_MAX_CONNECTIONS = 4000
#: File descriptors kept for the database, the file store and logs when the open-files limit
#: caps :data:`DEFAULT_MAX_CONNECTIONS`.
RESERVED_FILES = 100
#: On SIGTERM, requests still running after this many seconds are cancelled (uvicorn waits
#: for ever by default: one long export kept a server from stopping).
GRACEFUL_SHUTDOWN_TIMEOUT = 10

#: The longest a write waits (seconds) for its project's write lock (SQLite: the database's
#: write lock, ``busy_timeout``; PostgreSQL: ``lock_timeout``) before it is refused with a
#: 503 and nothing written. ``LOCALCAP_WRITE_LOCK_TIMEOUT`` overrides it. Long enough for
#: any ordinary write to finish; a client refused should retry after :data:`BUSY_RETRY_AFTER`.
WRITE_LOCK_TIMEOUT = 30.0
#: The ``Retry-After`` (seconds) of a write refused because the project stayed busy.
BUSY_RETRY_AFTER = 5
